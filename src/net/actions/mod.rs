//! The EC2 network actions, one module per resource, as every front end (the CLI and
//! the API) calls them: each takes a typed request of `ec2::shapes::network`, changes the
//! records (`net::vpc`, `net::eni`, `net::addresses`, `net::groups`) in one store
//! transaction and then brings the host's network in step with the store
//! ([`sync`](crate::net::sync)), and returns the typed result. The records never call
//! back up here: the arrows point from actions to records and `sync`.

pub mod addresses;
pub mod groups;
pub mod interfaces;
pub mod vpcs;
