//! CloudWatch's and SNS's wire protocols: awsQuery forms (`Name.member.N`, maps as
//! `Name.entry.N.key`) and AWS JSON 1.0 bodies, decoded by their models.
#![no_main]

use ec2lab::api::awsquery::{self, ParamCodes};
use ec2lab::api::{awsjson, query};
use ec2lab::ec2::model::{cloudwatch, sns};

const CODES: ParamCodes = ParamCodes {
    invalid: "InvalidParameterValue",
    missing: "MissingParameter",
};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let model = if selector & 1 == 0 {
        cloudwatch()
    } else {
        sns()
    };
    if selector & 2 != 0 {
        // AWS JSON: "{Action}\n{body}".
        let (action, body) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        let action = String::from_utf8_lossy(action);
        if let Some(op) = model.operations.get(action.as_ref()) {
            let _ = awsjson::decode(model, op.input.as_deref(), body, CODES);
        }
        return;
    }
    let mut params: Vec<(String, String)> = form_urlencoded::parse(rest).into_owned().collect();
    let Ok(action) = query::take_action(&mut params) else {
        return;
    };
    if let Some(op) = model.operations.get(&action) {
        let _ = awsquery::decode(model, op.input.as_deref(), &params, CODES);
    }
});
