//! The EC2 core's vocabulary: the typed shapes of EC2's API model that the services take and
//! return, and what every describe and create verb shares: filters, tags and pages.
//!
//! Front ends (the CLI, `ec2lab serve`, the metadata service, the console) serialize these
//! shapes in their own formats; none of them parses another's output. Member names follow
//! botocore's EC2 model (API version 2016-11-15), so `serde_json::to_value` of a result is the
//! aws CLI's JSON, and the Query protocol's XML is derived from the same names.

pub mod filters;
pub mod members;
pub mod model;
pub mod pages;
pub mod shapes;
pub mod tags;
