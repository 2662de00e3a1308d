//! Typed requests and results, one per EC2 action, named and shaped as in botocore's EC2
//! model (`RunInstancesRequest` → `Reservation`, `DescribeVolumesRequest` →
//! `DescribeVolumesResult`, …). Members serialize under the model's member names
//! (PascalCase); optional members that are absent are left out, as the aws CLI leaves them out.

pub mod images;
pub mod instance_attributes;
pub mod instance_status;
pub mod instances;
pub mod keys;
pub mod launch_templates;
pub mod maintenance;
pub mod market;
pub mod network;
pub mod storage;
pub mod tagging;

pub use super::filters::Filter;
pub use super::tags::{Tag, TagSpecification};
