//! EC2's key pair actions over the record: CreateKeyPair, ImportKeyPair, DescribeKeyPairs,
//! DeleteKeyPair, each in one store transaction.

use std::path::Path;

use crate::ec2::filters;
use crate::ec2::shapes::keys as shapes;
use crate::ec2::tags::{self, Tag};
use crate::error::Ec2Error;
use crate::store::Store;

use super::record::*;

/// The key pair tags of a `TagSpecifications` list, checked.
pub(super) fn key_pair_tags(specs: &[tags::TagSpecification]) -> Result<Vec<Tag>, Ec2Error> {
    tags::for_resource(specs, &["key-pair"], "key-pair")
}

/// `CreateKeyPair`. `output_file` (an ec2lab extension of the CLI) also gets the private
/// key, in a new file of mode 0600 that `ec2lab ssh` then uses.
pub fn create_key_pair(
    store: &mut Store,
    req: &shapes::CreateKeyPairRequest,
    output_file: Option<&Path>,
) -> Result<shapes::KeyPair, Ec2Error> {
    let key_type = KeyType::parse(&req.key_type)?;
    let format = KeyFormat::parse(&req.key_format)?;
    let tags = key_pair_tags(&req.tag_specifications)?;
    let (kp, material) = store
        .write(|tx| create_with_tags(tx, &req.key_name, key_type, format, output_file, &tags))?;
    Ok(shapes::KeyPair {
        key_fingerprint: kp.fingerprint,
        key_material: material,
        key_name: kp.key_name,
        key_pair_id: kp.key_pair_id,
        tags: kp.tags,
    })
}

/// `ImportKeyPair`.
pub fn import_key_pair(
    store: &mut Store,
    req: &shapes::ImportKeyPairRequest,
) -> Result<shapes::ImportKeyPairResult, Ec2Error> {
    let tags = key_pair_tags(&req.tag_specifications)?;
    let kp = store.write(|tx| import(tx, &req.key_name, &req.public_key_material, &tags))?;
    Ok(shapes::ImportKeyPairResult {
        key_fingerprint: kp.fingerprint,
        key_name: kp.key_name,
        key_pair_id: kp.key_pair_id,
        tags: kp.tags,
    })
}

/// `DescribeKeyPairs`: as on EC2, naming a pair that does not exist is an error, not an
/// empty list.
pub fn describe_key_pairs(
    store: &Store,
    req: &shapes::DescribeKeyPairsRequest,
) -> Result<shapes::DescribeKeyPairsResult, Ec2Error> {
    for id in &req.key_pair_ids {
        Ec2Error::check_id(id, "key", "KeyPair")?;
    }
    let all = all(store.conn())?;
    for n in &req.key_names {
        if !all.iter().any(|k| &k.key_name == n) {
            return Err(not_found(n));
        }
    }
    for id in &req.key_pair_ids {
        if !all.iter().any(|k| &k.key_pair_id == id) {
            return Err(id_not_found(id));
        }
    }
    let include = req.include_public_key.unwrap_or(false);
    let listed = all
        .iter()
        .filter(|k| req.key_names.is_empty() || req.key_names.contains(&k.key_name))
        .filter(|k| req.key_pair_ids.is_empty() || req.key_pair_ids.contains(&k.key_pair_id))
        .map(|k| k.to_shape(include))
        .collect();
    Ok(shapes::DescribeKeyPairsResult {
        key_pairs: filters::retain(listed, &req.filters)?,
    })
}

/// `DeleteKeyPair`, by name or by id; deleting a pair that does not exist succeeds.
pub fn delete_key_pair(
    store: &mut Store,
    req: &shapes::DeleteKeyPairRequest,
) -> Result<shapes::DeleteKeyPairResult, Ec2Error> {
    let gone = store.write(|tx| match (&req.key_name, &req.key_pair_id) {
        (Some(n), _) => delete(tx, n),
        (None, Some(id)) => delete_by_id(tx, id),
        (None, None) => Err(Ec2Error::missing_parameter("KeyName or KeyPairId")),
    })?;
    Ok(shapes::DeleteKeyPairResult {
        return_: true,
        key_pair_id: gone.map(|k| k.key_pair_id),
    })
}
