//! SigV4 on incoming requests: the signature is computed again with awslabs' signer
//! (`aws-sigv4`) from what the client says it signed, and compared in constant time.
//! Signed in the `Authorization` header or presigned in the query string.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use http::HeaderMap;
use subtle::ConstantTimeEq;

use super::keys::AccessKey;
use crate::error::Ec2Error;

/// The only algorithm ec2lab takes.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// EC2's service name in the credential scope.
pub const SERVICE: &str = "ec2";
/// How far a header-signed request's time may be from the server's (AWS allows 15 minutes).
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// An HTTP request as it arrived, for checking its signature.
pub struct Incoming<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// The path, as sent.
    pub path: &'a str,
    /// The query string, as sent (without `?`).
    pub query: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The body.
    pub body: &'a [u8],
}

/// Who signed a request, and for which region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The access key id.
    pub access_key_id: String,
    /// The region of the credential scope: the state root the request acts on.
    pub region: String,
}

/// The parts of a SigV4 signature, from the header or the query string.
struct Claimed {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
    amz_date: String,
    /// Presigned: the validity in seconds.
    expires: Option<u64>,
}

fn auth_failure(detail: &str) -> Ec2Error {
    Ec2Error::new(
        "AuthFailure",
        format!("AWS was not able to validate the provided access credentials: {detail}"),
    )
}

/// What a signed request's credential scope names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The access key id.
    pub access_key_id: String,
    /// The service (`ec2`, `monitoring`, `sns`): what the router picks the service by.
    pub service: String,
}

/// The request's credential scope, if it is signed at all (not yet checked).
pub fn credential_scope(req: &Incoming<'_>) -> Option<Scope> {
    claimed(req).ok().map(|c| Scope {
        access_key_id: c.access_key_id,
        service: c.service,
    })
}

/// Whether the request carries a signature (in the header or the query string).
pub fn is_signed(req: &Incoming<'_>) -> bool {
    req.headers.contains_key("authorization")
        || form_urlencoded::parse(req.query.as_bytes()).any(|(k, _)| k == "X-Amz-Signature")
}

/// Checks the request's SigV4 signature against `keys`, for a region in `regions` and the
/// service `service` (the scope's service name, which the signature covers).
pub fn verify(
    req: &Incoming<'_>,
    keys: &[AccessKey],
    regions: &[String],
    service: &str,
    now: SystemTime,
) -> Result<Signer, Ec2Error> {
    let claimed = claimed(req)?;
    if claimed.service != service {
        return Err(auth_failure(&format!(
            "the credential scope names service '{}', not '{service}'",
            claimed.service
        )));
    }
    if !regions.contains(&claimed.region) {
        return Err(auth_failure(&format!(
            "the credential scope names region '{}', which this ec2lab does not have ({})",
            claimed.region,
            regions.join(", ")
        )));
    }
    let key = keys
        .iter()
        .find(|k| k.access_key_id == claimed.access_key_id)
        .ok_or_else(|| {
            auth_failure(&format!(
                "the access key '{}' is not one of this ec2lab's (see `ec2lab configure-aws`)",
                claimed.access_key_id
            ))
        })?;
    let time = parse_amz_date(&claimed.amz_date)
        .filter(|_| claimed.amz_date.starts_with(&claimed.date))
        .ok_or_else(|| auth_failure("X-Amz-Date is missing, malformed or not the scope's date"))?;
    check_time(time, claimed.expires, now)?;

    let mut settings = SigningSettings::default();
    // Exactly the headers the client listed are signed: no default exclusions.
    settings.excluded_headers = None;
    let mut headers: Vec<(&str, &str)> = Vec::new();
    for name in &claimed.signed_headers {
        match name.as_str() {
            // The signer adds these itself.
            "x-amz-date" if claimed.expires.is_none() => continue,
            "x-amz-content-sha256" => {
                settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
                continue;
            }
            "x-amz-security-token" => {
                return Err(auth_failure("ec2lab's keys have no session tokens"))
            }
            _ => {}
        }
        let values: Vec<&str> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty() {
            return Err(auth_failure(&format!(
                "the signed header '{name}' is missing"
            )));
        }
        headers.extend(values.into_iter().map(|v| (name.as_str(), v)));
    }
    let host = headers
        .iter()
        .find(|(n, _)| *n == "host")
        .map(|(_, v)| *v)
        .ok_or_else(|| auth_failure("the Host header is not signed"))?;
    let query = match claimed.expires {
        Some(secs) => {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(secs));
            // The signer adds the X-Amz-* parameters back in canonical form.
            let rest: Vec<(Cow<str>, Cow<str>)> = form_urlencoded::parse(req.query.as_bytes())
                .filter(|(k, _)| !k.starts_with("X-Amz-"))
                .collect();
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(rest)
                .finish()
        }
        None => req.query.to_string(),
    };
    let uri = if query.is_empty() {
        format!("http://{host}{}", req.path)
    } else {
        format!("http://{host}{}?{query}", req.path)
    };
    let identity = Credentials::new(
        &key.access_key_id,
        &key.secret_access_key,
        None,
        None,
        "ec2lab",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&claimed.region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| Ec2Error::internal(format!("SigV4 parameters: {e}")))?
        .into();
    // botocore presigns EC2 URLs over the body's hash, S3-style signers over
    // UNSIGNED-PAYLOAD: a presigned request may match either.
    let bodies: &[SignableBody] = match claimed.expires {
        Some(_) => &[SignableBody::Bytes(req.body), SignableBody::UnsignedPayload],
        None => &[SignableBody::Bytes(req.body)],
    };
    let given = claimed.signature.as_bytes();
    let mut matched = false;
    for body in bodies {
        let signable = SignableRequest::new(
            req.method,
            uri.as_str(),
            headers.iter().copied(),
            body.clone(),
        )
        .map_err(|_| auth_failure("the request cannot be put in canonical form"))?;
        let expected = sign(signable, &params)
            .map_err(|_| auth_failure("the request cannot be put in canonical form"))?;
        let expected = expected.signature().as_bytes();
        matched |= expected.len() == given.len() && bool::from(expected.ct_eq(given));
    }
    if !matched {
        return Err(auth_failure(
            "the request signature does not match: check the secret access key and the signing method",
        ));
    }
    Ok(Signer {
        access_key_id: claimed.access_key_id,
        region: claimed.region,
    })
}

fn check_time(signed: SystemTime, expires: Option<u64>, now: SystemTime) -> Result<(), Ec2Error> {
    let expired = || Ec2Error::new("RequestExpired", "Request has expired.");
    match expires {
        None => {
            let skew = now
                .duration_since(signed)
                .or_else(|e| Ok::<_, ()>(e.duration()))
                .unwrap_or_default();
            if skew > MAX_SKEW {
                return Err(expired());
            }
        }
        Some(secs) => {
            if signed > now + MAX_SKEW || now > signed + Duration::from_secs(secs) {
                return Err(expired());
            }
        }
    }
    Ok(())
}

fn claimed(req: &Incoming<'_>) -> Result<Claimed, Ec2Error> {
    if let Some(auth) = req.headers.get("authorization") {
        let auth = auth
            .to_str()
            .map_err(|_| auth_failure("the Authorization header is not text"))?;
        let rest = auth
            .strip_prefix(ALGORITHM)
            .filter(|r| r.starts_with(' '))
            .ok_or_else(|| {
                auth_failure(&format!("only {ALGORITHM} (SigV4) signatures are taken"))
            })?;
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=').unwrap_or(("", ""));
            match k {
                "Credential" => credential = Some(v),
                "SignedHeaders" => signed_headers = Some(v),
                "Signature" => signature = Some(v),
                _ => {}
            }
        }
        let (Some(c), Some(h), Some(s)) = (credential, signed_headers, signature) else {
            return Err(auth_failure("the Authorization header is incomplete"));
        };
        let amz_date = req
            .headers
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        return scope(c, h, s, amz_date, None);
    }
    let q: Vec<(Cow<str>, Cow<str>)> = form_urlencoded::parse(req.query.as_bytes()).collect();
    let get = |name: &str| {
        q.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_string())
    };
    let Some(signature) = get("X-Amz-Signature") else {
        return Err(auth_failure(
            "the request is not signed: sign it with SigV4 (the AWS tools do, with a profile from `ec2lab configure-aws`)",
        ));
    };
    if get("X-Amz-Algorithm").as_deref() != Some(ALGORITHM) {
        return Err(auth_failure(&format!(
            "only {ALGORITHM} (SigV4) signatures are taken"
        )));
    }
    let expires = get("X-Amz-Expires")
        .and_then(|e| e.parse().ok())
        .ok_or_else(|| auth_failure("X-Amz-Expires is missing or malformed"))?;
    scope(
        &get("X-Amz-Credential").unwrap_or_default(),
        &get("X-Amz-SignedHeaders").unwrap_or_default(),
        &signature,
        &get("X-Amz-Date").unwrap_or_default(),
        Some(expires),
    )
}

fn scope(
    credential: &str,
    signed_headers: &str,
    signature: &str,
    amz_date: &str,
    expires: Option<u64>,
) -> Result<Claimed, Ec2Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, "aws4_request"] = parts.as_slice() else {
        return Err(auth_failure(
            "the credential is not KEY/DATE/REGION/SERVICE/aws4_request",
        ));
    };
    Ok(Claimed {
        access_key_id: key.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers: signed_headers
            .split(';')
            .filter(|h| !h.is_empty())
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        signature: signature.to_string(),
        amz_date: amz_date.to_string(),
        expires,
    })
}

/// `20261203T110000Z` as a time.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let secs =
        crate::clock::days_from_civil(y, m as u32, d as u32) * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates() {
        let t = parse_amz_date("20261203T110000Z").unwrap();
        let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(
            crate::store::iso8601(secs as i64, 0),
            "2026-12-03T11:00:00.000Z"
        );
        assert!(parse_amz_date("2026-12-03T11:00:00Z").is_none());
        assert!(parse_amz_date("20261303T110000Z").is_none());
    }

    /// Signs a request the way a client does (the same signer, header mode) and checks
    /// that `verify` accepts it and refuses any change.
    #[test]
    fn accepts_its_own_signature_and_nothing_else() {
        let key = super::super::keys::generate();
        let regions = vec!["lab-1".to_string()];
        let body = b"Action=DescribeRegions&Version=2016-11-15";
        let now = SystemTime::now();
        let identity = Credentials::new(
            &key.access_key_id,
            &key.secret_access_key,
            None,
            None,
            "test",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("lab-1")
            .name("ec2")
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let hdrs = [
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("host", "127.0.0.1:8773"),
        ];
        let signable = SignableRequest::new(
            "POST",
            "http://127.0.0.1:8773/",
            hdrs.iter().copied(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut headers = HeaderMap::new();
        for (k, v) in hdrs {
            headers.insert(k, v.parse().unwrap());
        }
        for (k, v) in instructions.headers() {
            headers.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        fn req<'a>(body: &'a [u8], headers: &'a HeaderMap) -> Incoming<'a> {
            Incoming {
                method: "POST",
                path: "/",
                query: "",
                headers,
                body,
            }
        }
        let headers = &headers;
        let ok = verify(
            &req(body, headers),
            std::slice::from_ref(&key),
            &regions,
            SERVICE,
            now,
        )
        .unwrap();
        assert_eq!(ok.region, "lab-1");
        assert_eq!(ok.access_key_id, key.access_key_id);

        let e = verify(
            &req(b"Action=RunInstances", headers),
            std::slice::from_ref(&key),
            &regions,
            SERVICE,
            now,
        )
        .unwrap_err();
        assert_eq!(e.code, "AuthFailure");
        let other = super::super::keys::generate();
        let e = verify(&req(body, headers), &[other], &regions, SERVICE, now).unwrap_err();
        assert_eq!(e.code, "AuthFailure");
        let e = verify(
            &req(body, headers),
            std::slice::from_ref(&key),
            &["lab-2".into()],
            SERVICE,
            now,
        )
        .unwrap_err();
        assert_eq!(e.code, "AuthFailure");
        // The scope's service is part of what is checked.
        let e = verify(
            &req(body, headers),
            std::slice::from_ref(&key),
            &regions,
            "sns",
            now,
        )
        .unwrap_err();
        assert_eq!(e.code, "AuthFailure");
        assert!(e.message.contains("names service 'ec2', not 'sns'"), "{e}");
        let later = now + Duration::from_secs(3600);
        let e = verify(&req(body, headers), &[key], &regions, SERVICE, later).unwrap_err();
        assert_eq!(e.code, "RequestExpired");
        let unsigned = HeaderMap::new();
        let e = verify(&req(body, &unsigned), &[], &regions, SERVICE, now).unwrap_err();
        assert_eq!(e.code, "AuthFailure");
    }
}
