//! `ec2lab serve`: the EC2 Query API (version 2016-11-15) over HTTP, as the aws CLI, boto3
//! and the AWS SDKs speak it. A front end beside `cli/`: it calls the same service
//! functions and never the CLI.
//!
//! - [`crate::ec2::model`]: botocore's EC2 model, cut down to the served operations (generated),
//!   shared with the CLI, which takes its flag list from it.
//! - [`query`]: form parameters to a JSON object of member names, by the model.
//! - [`xml`]: result JSON to EC2's XML, and EC2's error document.
//! - [`sigv4`] and [`keys`]: signed requests only, for the keys in the state directory.
//! - [`actions`]: the dispatch table and the handlers.
//! - [`server`]: the HTTP server.
//! - [`services`]: which service a request is for (EC2, CloudWatch, SNS), and the
//!   answers of the services other than EC2; [`awsquery`] and [`awsjson`] are their
//!   codecs, [`timestamps`] their time formats.
//! - [`cloudwatch`], [`sns`] and [`ce`] (Cost Explorer): those services' dispatch tables and
//!   handlers.
//! - [`awsconfig`]: the profile `ec2lab configure-aws` writes for the AWS tools.
//! - [`console`]: the web console's embedded files at `/` and its one-time sign-in link;
//!   [`serial`]: its serial console, a presigned WebSocket to the instance's console socket.

pub mod actions;
pub mod autoscaling;
pub mod awsconfig;
pub mod awsjson;
pub mod awsquery;
pub mod ce;
pub mod cloudwatch;
pub mod console;
pub mod keys;
pub mod query;
pub mod serial;
pub mod server;
pub mod services;
pub mod sigv4;
pub mod sns;
pub mod timestamps;
pub mod xml;

pub use actions::regions;
