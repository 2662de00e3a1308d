//! The key pair actions that change something: CreateKeyPair, ImportKeyPair,
//! DeleteKeyPair.

use serde_json::Value;

use super::{from_request, to_result, ApiCtx};
use crate::ec2::shapes::keys::{CreateKeyPairRequest, DeleteKeyPairRequest, ImportKeyPairRequest};
use crate::error::Ec2Error;
use crate::keypairs;

/// `CreateKeyPair`: the private key is in the answer only (no file is written here).
pub fn create_key_pair(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: CreateKeyPairRequest = from_request(req)?;
    to_result(&keypairs::create_key_pair(&mut ctx.store()?, &req, None)?)
}

/// `ImportKeyPair`: `PublicKeyMaterial` arrives base64-encoded (botocore encodes the key
/// file's bytes, a blob).
pub fn import_key_pair(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: ImportKeyPairRequest = from_request(req)?;
    to_result(&keypairs::import_key_pair(&mut ctx.store()?, &req)?)
}

/// `DeleteKeyPair`.
pub fn delete_key_pair(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
    let req: DeleteKeyPairRequest = from_request(req)?;
    to_result(&keypairs::delete_key_pair(&mut ctx.store()?, &req)?)
}
