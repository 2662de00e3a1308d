//! The tag verbs: `create-tags`, `delete-tags` and `describe-tags`, on any resource, shaped
//! like `aws ec2`'s. They parse flags and print; `tagging` does the rest.

use clap::Args;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ctx::{filters_from, to_json, Ctx, Failure};
use super::shorthand;
use crate::ec2::shapes::tagging::{CreateTagsRequest, DeleteTagsRequest, DescribeTagsRequest};
use crate::tagging;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab create-tags --resources i-… vol-… --tags Key=Name,Value=web Key=env,Value=lab\n  \
  ec2lab create-tags --resources sg-… --tags '[{\"Key\":\"team\",\"Value\":\"a\"}]'\n\n\
  Works on instances, AMIs, volumes, snapshots, VPCs, subnets, security groups, network\n\
  interfaces, Elastic IPs (eipalloc-…) and key pairs (key-…). A key a resource has already\n\
  gets the new value; a resource has at most 50 tags. All resources change, or none.")]
/// Add or overwrite tags on resources.
pub struct CreateTags {
    /// The resources' ids.
    #[arg(long, num_args = 1.., required = true)]
    pub resources: Vec<String>,
    /// The tags: Key=…,Value=… (shorthand or JSON).
    #[arg(long, num_args = 1.., required = true)]
    pub tags: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab delete-tags --resources vol-… --tags Key=env                # whatever its value\n  \
  ec2lab delete-tags --resources vol-… --tags Key=env,Value=lab      # only if it is lab\n  \
  ec2lab delete-tags --resources vol-…                               # every tag")]
/// Remove tags from resources.
pub struct DeleteTags {
    /// The resources' ids.
    #[arg(long, num_args = 1.., required = true)]
    pub resources: Vec<String>,
    /// The tags: Key=… (any value) or Key=…,Value=… (only that value); none: all tags.
    #[arg(long, num_args = 1..)]
    pub tags: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  ec2lab describe-tags\n  \
  ec2lab describe-tags --filters Name=resource-type,Values=volume Name=key,Values=Name\n  \
  ec2lab describe-tags --filters Name=resource-id,Values=i-…")]
/// Describe the tags of all resources.
pub struct DescribeTags {
    /// Filters: Name=key|value|resource-id|resource-type|tag:<key>,Values=…
    #[arg(long, num_args = 1..)]
    pub filters: Vec<String>,
    /// A page of at most this many tags (5 to 1000).
    #[arg(long)]
    pub max_results: Option<i64>,
    /// The NextToken of the previous page.
    #[arg(long)]
    pub next_token: Option<String>,
}

/// A list parameter (shorthand or JSON) as its elements' shape.
fn list<T: DeserializeOwned>(param: &str, raw: &[String]) -> Result<Vec<T>, Failure> {
    shorthand::parse_list(raw)
        .map_err(|e| e.with_param(param))?
        .into_iter()
        .map(|v| {
            serde_json::from_value(v)
                .map_err(|e| Failure::Param(format!("Error parsing parameter '{param}': {e}")))
        })
        .collect()
}

/// `create-tags`.
pub fn create_tags(ctx: &Ctx, a: CreateTags) -> Result<Value, Failure> {
    let req = CreateTagsRequest {
        tags: list("--tags", &a.tags)?,
        resources: a.resources,
    };
    ctx.answer_dry_run(&req)?;
    tagging::create_tags(&mut ctx.tidy_store()?, &req)?;
    Ok(Value::Null)
}

/// `delete-tags`.
pub fn delete_tags(ctx: &Ctx, a: DeleteTags) -> Result<Value, Failure> {
    let req = DeleteTagsRequest {
        tags: list("--tags", &a.tags)?,
        resources: a.resources,
    };
    ctx.answer_dry_run(&req)?;
    tagging::delete_tags(&mut ctx.tidy_store()?, &req)?;
    Ok(Value::Null)
}

/// `describe-tags`.
pub fn describe_tags(ctx: &Ctx, a: DescribeTags) -> Result<Value, Failure> {
    let req = DescribeTagsRequest {
        filters: filters_from(&a.filters)?,
        max_results: a.max_results,
        next_token: a.next_token,
    };
    ctx.answer_dry_run(&req)?;
    to_json(&tagging::describe_tags(&ctx.tidy_store()?, &req)?)
}
