//! The services on `ec2lab serve`'s one endpoint, and which one a request is for: the
//! `X-Amz-Target` prefix (`AmazonEC2.`, `GraniteServiceVersion20100801.`,
//! `AWSInsightsIndexService.`) or else the service the SigV4 credential scope names (`ec2`,
//! `monitoring`, `sns`, `ce`, `savingsplans`, `autoscaling`). EC2 keeps its own protocol (in
//! `server`); CloudWatch, SNS, Auto Scaling, Cost Explorer and Savings Plans are answered
//! here, in awsQuery ([`super::awsquery`]) or JSON ([`super::awsjson`]: AWS JSON 1.0 for
//! CloudWatch, 1.1 for Cost Explorer; REST-JSON, the operation in the path, for Savings Plans).
//!
//! SNS's `SubscribeURL` and `UnsubscribeURL` are unsigned GETs, as AWS's are: an unsigned
//! `ConfirmSubscription` (which carries its token) or `Unsubscribe` naming an SNS ARN goes
//! to SNS, for the region in the ARN.

use std::path::Path;
use std::time::SystemTime;

use axum::http::{header, HeaderMap, Method, StatusCode};
use serde_json::Value;

use super::actions::{ApiCtx, Handler};
use super::awsquery::{self, ParamCodes};
use super::keys::AccessKey;
use super::sigv4::{self, Incoming};
use super::{autoscaling, awsjson, ce, cloudwatch, sns};
use crate::ec2::model::Model;
use crate::error::Ec2Error;

/// The content type of AWS JSON 1.0 requests and answers.
pub const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// CloudWatch's `X-Amz-Target` prefix in AWS JSON 1.0 (its model's `targetPrefix`).
pub const CLOUDWATCH_TARGET_PREFIX: &str = "GraniteServiceVersion20100801.";
/// Cost Explorer's `X-Amz-Target` prefix (AWS JSON 1.1).
pub const CE_TARGET_PREFIX: &str = "AWSInsightsIndexService.";
/// The content type of AWS JSON 1.1 requests and answers (Cost Explorer).
pub const JSON_11_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// A service `ec2lab serve` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// EC2 (the EC2 Query protocol; AWS JSON 1.0 with `AmazonEC2.`).
    Ec2,
    /// CloudWatch (`monitoring`): awsQuery and AWS JSON 1.0.
    CloudWatch,
    /// SNS: awsQuery.
    Sns,
    /// Cost Explorer (`ce`): AWS JSON 1.1.
    CostExplorer,
    /// Savings Plans (`savingsplans`): REST-JSON, the operation in the path.
    SavingsPlans,
    /// Auto Scaling (`autoscaling`): awsQuery.
    AutoScaling,
}

impl Service {
    /// The service name in a SigV4 credential scope.
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::Ec2 => sigv4::SERVICE,
            Service::CloudWatch => "monitoring",
            Service::Sns => "sns",
            Service::CostExplorer => "ce",
            Service::SavingsPlans => "savingsplans",
            Service::AutoScaling => "autoscaling",
        }
    }

    /// The service's model (botocore's, cut down, generated beside the service).
    pub fn model(self) -> &'static Model {
        match self {
            Service::Ec2 => Model::get(),
            Service::CloudWatch => crate::ec2::model::cloudwatch(),
            Service::Sns => crate::ec2::model::sns(),
            Service::CostExplorer => crate::billing::operations::model(),
            Service::SavingsPlans => crate::billing::operations::savings_model(),
            Service::AutoScaling => crate::ec2::model::autoscaling(),
        }
    }

    /// The actions served and their handlers.
    pub fn actions(self) -> &'static [(&'static str, Handler)] {
        match self {
            Service::Ec2 => super::actions::ACTIONS,
            Service::CloudWatch => cloudwatch::ACTIONS,
            Service::Sns => sns::ACTIONS,
            Service::CostExplorer => ce::ACTIONS,
            Service::SavingsPlans => ce::SAVINGS_ACTIONS,
            Service::AutoScaling => autoscaling::ACTIONS,
        }
    }

    /// The handler of `action`, if this service serves it.
    pub fn handler(self, action: &str) -> Option<Handler> {
        self.model().operations.get(action)?;
        self.actions()
            .iter()
            .find(|(name, _)| *name == action)
            .map(|(_, h)| *h)
    }

    /// The codes this service answers bad parameters with.
    fn param_codes(self) -> ParamCodes {
        match self {
            Service::Sns => ParamCodes {
                invalid: "InvalidParameter",
                missing: "InvalidParameter",
            },
            Service::CostExplorer | Service::SavingsPlans => ParamCodes {
                invalid: "ValidationException",
                missing: "ValidationException",
            },
            // Auto Scaling answers both with its one code.
            Service::AutoScaling => ParamCodes {
                invalid: "ValidationError",
                missing: "ValidationError",
            },
            _ => ParamCodes {
                invalid: "InvalidParameterValue",
                missing: "MissingParameter",
            },
        }
    }
}

/// Which service a request is for.
pub fn route(req: &Incoming<'_>) -> Service {
    if let Some(target) = req.headers.get("x-amz-target") {
        return match target.to_str() {
            Ok(t) if t.starts_with(CLOUDWATCH_TARGET_PREFIX) => Service::CloudWatch,
            Ok(t) if t.starts_with(CE_TARGET_PREFIX) => Service::CostExplorer,
            // EC2's JSON decoder answers a target it does not know.
            _ => Service::Ec2,
        };
    }
    match sigv4::credential_scope(req) {
        Some(s) if s.service == Service::CloudWatch.signing_name() => Service::CloudWatch,
        Some(s) if s.service == Service::Sns.signing_name() => Service::Sns,
        Some(s) if s.service == Service::CostExplorer.signing_name() => Service::CostExplorer,
        Some(s) if s.service == Service::SavingsPlans.signing_name() => Service::SavingsPlans,
        Some(s) if s.service == Service::AutoScaling.signing_name() => Service::AutoScaling,
        Some(_) => Service::Ec2,
        None if !sigv4::is_signed(req) && public_sns_region(req).is_some() => Service::Sns,
        None => Service::Ec2,
    }
}

/// The form parameters of a request: the query string's and, for POST, the body's.
fn form(req: &Incoming<'_>) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = form_urlencoded::parse(req.query.as_bytes())
        .into_owned()
        .filter(|(k, _)| !k.starts_with("X-Amz-"))
        .collect();
    if req.method == Method::POST.as_str() && !is_json(req.headers) {
        params.extend(form_urlencoded::parse(req.body).into_owned());
    }
    params
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The region of an unsigned SNS request that AWS also takes unsigned (the links in SNS's
/// messages): `ConfirmSubscription` or `Unsubscribe` naming an SNS ARN.
fn public_sns_region(req: &Incoming<'_>) -> Option<String> {
    let params = form(req);
    let arn = match param(&params, "Action")? {
        "ConfirmSubscription" => param(&params, "TopicArn")?,
        "Unsubscribe" => param(&params, "SubscriptionArn")?,
        _ => return None,
    };
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", "aws", "sns", region, ..] if !region.is_empty() => Some(region.to_string()),
        _ => None,
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(JSON_CONTENT_TYPE))
}

/// An answer: status, content type, extra headers, body.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The content type.
    pub content_type: &'static str,
    /// Headers besides the content type and the request id.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: String,
}

/// What the endpoint serves to anyone, unsigned: the certificate SNS's messages are signed
/// under, at their `SigningCertURL`.
pub fn public_file(state_dir: &Path, req: &Incoming<'_>) -> Option<Reply> {
    if req.method != Method::GET.as_str() || req.path != crate::sns::signing::CERT_PATH {
        return None;
    }
    Some(match crate::sns::signing::certificate_pem(state_dir) {
        Some(pem) => Reply {
            status: StatusCode::OK,
            content_type: "application/x-pem-file",
            headers: Vec::new(),
            body: pem,
        },
        None => Reply {
            status: StatusCode::NOT_FOUND,
            content_type: "text/plain",
            headers: Vec::new(),
            body: "No SNS message has been signed yet.\n".into(),
        },
    })
}

/// The HTTP status CloudWatch, SNS and Auto Scaling send with an error code.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        // Auto Scaling's model gives these 400; `ResourceInUse` must not read as 409's
        // `ResourceConflict`.
        "AlreadyExists" | "ResourceInUse" | "ScalingActivityInProgress" => StatusCode::BAD_REQUEST,
        "NotFound" | "ResourceNotFound" | "ResourceNotFoundException" => StatusCode::NOT_FOUND,
        "AuthorizationError"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "MissingAuthenticationToken"
        | "RequestExpired" => StatusCode::FORBIDDEN,
        "InternalError" | "InternalFailure" | "InternalServiceError" => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        "ConflictException" | "ResourceConflict" => StatusCode::CONFLICT,
        "ConcurrentModificationException" => StatusCode::TOO_MANY_REQUESTS,
        "ServiceUnavailable" | "Throttling" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// What the request's state and keys are.
pub struct Env<'a> {
    /// ec2lab's state directory.
    pub state_dir: &'a Path,
    /// The access keys requests are signed with.
    pub keys: &'a [AccessKey],
    /// Every region this ec2lab has.
    pub regions: &'a [String],
}

/// Answers one request for CloudWatch or SNS.
pub fn answer(
    service: Service,
    env: &Env<'_>,
    req: &Incoming<'_>,
    request_id: &str,
    now: SystemTime,
) -> Reply {
    let json = matches!(service, Service::CostExplorer | Service::SavingsPlans)
        || (service == Service::CloudWatch
            && (is_json(req.headers) || req.headers.contains_key("x-amz-target")));
    let json_type = match service {
        Service::CostExplorer => JSON_11_CONTENT_TYPE,
        Service::SavingsPlans => "application/json",
        _ => JSON_CONTENT_TYPE,
    };
    let model = service.model();
    match dispatch(service, json, env, req, now) {
        Ok((action, result)) => {
            let body = if json {
                awsjson::response(model, &action, &result)
            } else {
                awsquery::response(model, &action, request_id, &result)
            };
            Reply {
                status: StatusCode::OK,
                content_type: if json { json_type } else { "text/xml" },
                headers: Vec::new(),
                body,
            }
        }
        Err(e) => {
            if e.code == "InternalError" || e.code == "InternalFailure" {
                eprintln!("ec2lab serve: {request_id}: {e}");
            }
            let status = status_of(&e.code);
            let sender = !status.is_server_error();
            if json {
                let mut headers = Vec::new();
                if service == Service::SavingsPlans {
                    // REST-JSON names the error in a header.
                    headers.push(("x-amzn-errortype", e.code.to_string()));
                }
                // A query-compatible service says the Query protocol's code and fault;
                // not for errors of the JSON protocol itself.
                let protocol_error = matches!(
                    e.code.as_ref(),
                    "UnknownOperationException" | "SerializationException"
                );
                if model.metadata.aws_query_compatible.is_some() && !protocol_error {
                    let fault = if sender { "Sender" } else { "Receiver" };
                    headers.push(("x-amzn-query-error", format!("{};{fault}", e.code)));
                }
                Reply {
                    status,
                    content_type: json_type,
                    headers,
                    body: awsjson::error(&e),
                }
            } else {
                Reply {
                    status,
                    content_type: "text/xml",
                    headers: Vec::new(),
                    body: awsquery::error(model, &e, sender, request_id),
                }
            }
        }
    }
}

/// The region the request acts on: the signed scope's, or for SNS's public links the ARN's.
fn authenticate(
    service: Service,
    env: &Env<'_>,
    req: &Incoming<'_>,
    now: SystemTime,
) -> Result<String, Ec2Error> {
    if !sigv4::is_signed(req) {
        if service == Service::Sns {
            if let Some(region) = public_sns_region(req) {
                if env.regions.contains(&region) {
                    return Ok(region);
                }
                return Err(Ec2Error::new(
                    "InvalidParameter",
                    format!("Invalid parameter: this ec2lab has no region {region}"),
                ));
            }
        }
        return Err(Ec2Error::new(
            "MissingAuthenticationToken",
            "Request is missing Authentication Token: sign it with SigV4 (the AWS tools do, with a profile from `ec2lab configure-aws`)",
        ));
    }
    match sigv4::verify(req, env.keys, env.regions, service.signing_name(), now) {
        Ok(signer) => Ok(signer.region),
        Err(e) if e.code == "AuthFailure" => {
            let known = sigv4::credential_scope(req)
                .is_some_and(|s| env.keys.iter().any(|k| k.access_key_id == s.access_key_id));
            let code = if known {
                "SignatureDoesNotMatch"
            } else {
                "InvalidClientTokenId"
            };
            Err(Ec2Error::new(code, e.message))
        }
        Err(e) => Err(e),
    }
}

fn dispatch(
    service: Service,
    json: bool,
    env: &Env<'_>,
    req: &Incoming<'_>,
    now: SystemTime,
) -> Result<(String, Value), Ec2Error> {
    let region = authenticate(service, env, req, now)?;
    let model = service.model();
    let codes = service.param_codes();
    let (action, request) = if service == Service::SavingsPlans {
        // REST-JSON: `POST /<Operation>` with the members as a JSON body.
        let action = req.path.trim_start_matches('/').to_string();
        if service.handler(&action).is_none() {
            return Err(Ec2Error::new(
                "UnknownOperationException",
                format!("ec2lab's Savings Plans do not serve {:?}", req.path),
            ));
        }
        let input = model.operations[&action].input.as_deref();
        (
            action.clone(),
            awsjson::decode(model, input, req.body, codes)?,
        )
    } else if json {
        let target = req
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let prefix = model.metadata.target_prefix.as_deref().unwrap_or_default();
        let action = target
            .strip_prefix(prefix)
            .and_then(|t| t.strip_prefix('.'))
            .unwrap_or(target)
            .to_string();
        if service.handler(&action).is_none() {
            return Err(Ec2Error::new(
                "UnknownOperationException",
                format!("The operation {target:?} is not served by ec2lab's {service:?}"),
            ));
        }
        let input = model.operations[&action].input.as_deref();
        let request = awsjson::decode(model, input, req.body, codes)?;
        (action, request)
    } else {
        let mut params = form(req);
        let action = super::query::take_action(&mut params)?;
        if service.handler(&action).is_none() {
            return Err(Ec2Error::new(
                "InvalidAction",
                format!("The action {action} is not valid for this web service."),
            ));
        }
        let input = model.operations[&action].input.as_deref();
        let request = awsquery::decode(model, input, &params, codes)?;
        (action, request)
    };
    let handler = service.handler(&action).expect("checked above");
    let ctx = ApiCtx {
        state_dir: env.state_dir.to_path_buf(),
        region,
        regions: env.regions.to_vec(),
        endpoint: req
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    };
    let result = handler(&ctx, request)?;
    Ok((action, result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_resolve_and_tables_name_model_actions() {
        for s in [
            Service::Ec2,
            Service::CloudWatch,
            Service::Sns,
            Service::CostExplorer,
            Service::SavingsPlans,
            Service::AutoScaling,
        ] {
            crate::ec2::model::tests::resolves(s.model());
            for (name, _) in s.actions() {
                assert!(s.model().operations.contains_key(*name), "{s:?} {name}");
            }
        }
        assert_eq!(
            Service::CloudWatch
                .model()
                .metadata
                .target_prefix
                .as_deref(),
            Some("GraniteServiceVersion20100801")
        );
        assert!(Service::CloudWatch
            .model()
            .metadata
            .aws_query_compatible
            .is_some());
    }

    /// CloudWatch's codes with the statuses of its model's error shapes.
    #[test]
    fn cloudwatch_codes_have_their_statuses() {
        for (code, status) in [
            ("InvalidParameterValue", 400),
            ("InvalidParameterCombination", 400),
            ("MissingParameter", 400),
            ("ValidationError", 400),
            ("InvalidParameterInput", 400),
            ("InvalidFormat", 400),
            ("InvalidNextToken", 400),
            ("LimitExceeded", 400),
            ("ResourceNotFound", 404),
            ("InternalServiceError", 500),
            ("ConflictException", 409),
        ] {
            assert_eq!(status_of(code).as_u16(), status, "{code}");
        }
    }

    fn incoming<'a>(headers: &'a HeaderMap, query: &'a str) -> Incoming<'a> {
        Incoming {
            method: "GET",
            path: "/",
            query,
            headers,
            body: b"",
        }
    }

    #[test]
    fn routes_by_target_then_scope() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-target",
            "GraniteServiceVersion20100801.ListMetrics".parse().unwrap(),
        );
        assert_eq!(route(&incoming(&h, "")), Service::CloudWatch);
        h.insert("x-amz-target", "AmazonEC2.DescribeRegions".parse().unwrap());
        assert_eq!(route(&incoming(&h, "")), Service::Ec2);
        let scoped = |service: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                "authorization",
                format!("AWS4-HMAC-SHA256 Credential=AK/20261203/lab-1/{service}/aws4_request, SignedHeaders=host, Signature=00")
                    .parse()
                    .unwrap(),
            );
            route(&incoming(&h, ""))
        };
        assert_eq!(scoped("ec2"), Service::Ec2);
        assert_eq!(scoped("monitoring"), Service::CloudWatch);
        assert_eq!(scoped("sns"), Service::Sns);
        assert_eq!(scoped("autoscaling"), Service::AutoScaling);
        assert_eq!(scoped("s3"), Service::Ec2);
        let none = HeaderMap::new();
        assert_eq!(
            route(&incoming(&none, "Action=ConfirmSubscription&TopicArn=arn%3Aaws%3Asns%3Alab-1%3A111122223333%3At&Token=ab")),
            Service::Sns
        );
        assert_eq!(
            route(&incoming(&none, "Action=DescribeRegions")),
            Service::Ec2
        );
    }
}
