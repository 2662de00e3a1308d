//! CloudWatch's actions on `ec2lab serve` (`monitoring`, API 2010-08-01), in awsQuery and
//! AWS JSON 1.0 alike: the codec hands a handler the request as a JSON object of the
//! model's member names (`src/cloudwatch/cloudwatch-model.json`) with timestamps as ISO 8601
//! text, and encodes what it returns (timestamps as ISO 8601 text or epoch seconds) for
//! the request's protocol. A handler is written as EC2's are ([`super::actions`]):
//!
//! ```ignore
//! fn list_metrics(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
//!     let req: ListMetricsInput = from_request(req)?;
//!     let out = crate::cloudwatch::list_metrics(&ctx.store()?, &req)?;
//!     to_result(&out)
//! }
//! ```
//!
//! and one line in [`ACTIONS`]. An action of the model that is not in the table answers
//! `InvalidAction` (Query) or `UnknownOperationException` (JSON).

use super::actions::Handler;

/// CloudWatch's actions and their handlers (the service functions come with
/// `src/cloudwatch/`'s services).
pub const ACTIONS: &[(&str, Handler)] = &[];
