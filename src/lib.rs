//! ec2lab: a small EC2 on one Linux host. The CLI sits on top; the EC2 concepts
//! (instances, images) below it; the store and the VMM core at the bottom, and the VMM
//! knows nothing of EC2.

pub mod api;
pub mod autoscaling;
pub mod billing;
pub mod causes;
pub mod cli;
pub mod clock;
pub mod cloudwatch;
pub mod ec2;
pub mod error;
pub mod fdpass;
pub mod fsutil;
pub mod hash;
pub mod ids;
pub mod images;
pub mod instances;
pub mod keypairs;
pub mod lab;
pub mod launch_templates;
pub mod metadata;
pub mod net;
pub mod operations;
pub mod privdrop;
pub mod sns;
pub mod storage;
pub mod store;
pub mod tagging;
pub mod testhook;
pub mod vmm;
