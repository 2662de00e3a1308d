//! The instance metadata client, as cloud-init's EC2 datasource and the AWS SDKs do it:
//! IMDSv2 (`PUT /latest/api/token`, then GETs carrying the token), falling back to IMDSv1
//! when the token endpoint says it does not exist (403/404/405).

use crate::http::Response;
use std::time::{Duration, Instant};

pub const TOKEN_PATH: &str = "/latest/api/token";
pub const TOKEN_TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
pub const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";
/// Six hours, what cloud-init asks for.
pub const TOKEN_TTL: &str = "21600";

/// How requests reach the service: a real TCP connection, or a fake in the tests.
pub trait Transport {
    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response, String>;
}

pub struct Imds<'a, T: Transport> {
    transport: T,
    token: Option<String>,
    /// The token endpoint is absent: plain GETs without a token.
    v1: bool,
    /// Every request of this run must be done by then (one budget for the whole boot).
    deadline: Instant,
    retry_pause: Duration,
    log: &'a mut dyn FnMut(&str),
}

impl<'a, T: Transport> Imds<'a, T> {
    pub fn new(
        transport: T,
        deadline: Instant,
        retry_pause: Duration,
        log: &'a mut dyn FnMut(&str),
    ) -> Self {
        Imds {
            transport,
            token: None,
            v1: false,
            deadline,
            retry_pause,
            log,
        }
    }

    /// Sleeps before the next attempt; false when the budget is spent.
    fn pause(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        std::thread::sleep(self.retry_pause.min(self.deadline - now));
        true
    }

    /// Gets a session token unless there is one or the service is IMDSv1-only. Network
    /// errors and 5xx are retried until the deadline; 403/404/405 mean "no IMDSv2 here".
    fn ensure_token(&mut self) -> Result<(), String> {
        while !self.v1 && self.token.is_none() {
            let what =
                match self
                    .transport
                    .send("PUT", TOKEN_PATH, &[(TOKEN_TTL_HEADER, TOKEN_TTL)])
                {
                    Ok(r) if r.status == 200 => {
                        let t = String::from_utf8_lossy(&r.body).trim().to_string();
                        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()) {
                            self.token = Some(t);
                            return Ok(());
                        }
                        "PUT /latest/api/token: HTTP 200 without a usable token".to_string()
                    }
                    Ok(r) if (403..=405).contains(&r.status) => {
                        (self.log)(&format!(
                            "IMDSv2 token request answered HTTP {}: using IMDSv1 (no token)",
                            r.status
                        ));
                        self.v1 = true;
                        return Ok(());
                    }
                    Ok(r) => format!("PUT /latest/api/token: HTTP {}", r.status),
                    Err(e) => format!("PUT /latest/api/token: {e}"),
                };
            (self.log)(&format!("error: {what}"));
            if !self.pause() {
                return Err(format!("metadata service unreachable ({what})"));
            }
        }
        Ok(())
    }

    /// GETs a metadata path: `Ok(Some(body))` on 200, `Ok(None)` on 404 (the item does not
    /// exist, e.g. no key pair or no user data). A 401 (token expired or unknown) fetches a
    /// new token once. Other failures are retried until the deadline.
    pub fn get(&mut self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let mut renewed = false;
        loop {
            self.ensure_token()?;
            let token = self.token.clone();
            let headers: Vec<(&str, &str)> = match &token {
                Some(t) => vec![(TOKEN_HEADER, t.as_str())],
                None => vec![],
            };
            let what = match self.transport.send("GET", path, &headers) {
                Ok(r) if r.status == 200 => return Ok(Some(r.body)),
                Ok(r) if r.status == 404 => return Ok(None),
                Ok(r) if r.status == 401 && !renewed && !self.v1 => {
                    (self.log)(&format!(
                        "GET {path}: HTTP 401 (token rejected), getting a new token"
                    ));
                    self.token = None;
                    renewed = true;
                    continue;
                }
                Ok(r) if r.status == 401 => {
                    return Err(format!("GET {path}: HTTP 401 even with a new token"));
                }
                Ok(r) => format!("GET {path}: HTTP {}", r.status),
                Err(e) => format!("GET {path}: {e}"),
            };
            (self.log)(&format!("error: {what}"));
            if !self.pause() {
                return Err(format!("giving up: {what}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Answers from a script, one entry per request, and records what was asked.
    struct Fake {
        answers: VecDeque<Result<(u16, &'static str), &'static str>>,
        seen: Vec<String>,
    }

    impl Transport for &mut Fake {
        fn send(
            &mut self,
            method: &str,
            path: &str,
            headers: &[(&str, &str)],
        ) -> Result<Response, String> {
            let h: Vec<String> = headers.iter().map(|(k, v)| format!("{k}={v}")).collect();
            self.seen.push(format!("{method} {path} {}", h.join(",")));
            match self
                .answers
                .pop_front()
                .expect("more requests than scripted")
            {
                Ok((status, body)) => Ok(Response {
                    status,
                    body: body.as_bytes().to_vec(),
                }),
                Err(e) => Err(e.to_string()),
            }
        }
    }

    fn fake(answers: Vec<Result<(u16, &'static str), &'static str>>) -> Fake {
        Fake {
            answers: answers.into(),
            seen: vec![],
        }
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    #[test]
    fn v2_token_then_gets_with_it() {
        let mut f = fake(vec![Ok((200, "TOK\n")), Ok((200, "i-123")), Ok((404, ""))]);
        let mut logs = vec![];
        let mut log = |s: &str| logs.push(s.to_string());
        let mut m = Imds::new(&mut f, later(), Duration::ZERO, &mut log);
        assert_eq!(
            m.get("/latest/meta-data/instance-id").unwrap(),
            Some(b"i-123".to_vec())
        );
        assert_eq!(m.get("/latest/user-data").unwrap(), None);
        assert!(!m.v1);
        assert_eq!(
            f.seen,
            [
                "PUT /latest/api/token X-aws-ec2-metadata-token-ttl-seconds=21600",
                "GET /latest/meta-data/instance-id X-aws-ec2-metadata-token=TOK",
                "GET /latest/user-data X-aws-ec2-metadata-token=TOK",
            ]
        );
        assert!(logs.is_empty(), "{logs:?}");
    }

    #[test]
    fn token_refused_falls_back_to_v1() {
        for code in [403, 404, 405] {
            let mut f = fake(vec![Ok((code, "")), Ok((200, "i-1"))]);
            let mut log = |_: &str| {};
            let mut m = Imds::new(&mut f, later(), Duration::ZERO, &mut log);
            assert_eq!(m.get("/x").unwrap(), Some(b"i-1".to_vec()));
            assert!(m.v1);
            assert_eq!(f.seen[1], "GET /x ");
        }
    }

    #[test]
    fn network_errors_on_put_are_retried() {
        let mut f = fake(vec![
            Err("connection refused"),
            Err("timed out"),
            Ok((503, "")),
            Ok((200, "T")),
            Ok((200, "v")),
        ]);
        let mut logs = vec![];
        let mut log = |s: &str| logs.push(s.to_string());
        let mut m = Imds::new(&mut f, later(), Duration::ZERO, &mut log);
        assert_eq!(m.get("/x").unwrap(), Some(b"v".to_vec()));
        assert_eq!(logs.len(), 3, "one log line per failure: {logs:?}");
        assert!(logs[0].starts_with("error: PUT /latest/api/token: connection refused"));
    }

    #[test]
    fn expired_token_is_renewed_once() {
        let mut f = fake(vec![
            Ok((200, "OLD")),
            Ok((401, "")),
            Ok((200, "NEW")),
            Ok((200, "v")),
        ]);
        let mut log = |_: &str| {};
        let mut m = Imds::new(&mut f, later(), Duration::ZERO, &mut log);
        assert_eq!(m.get("/x").unwrap(), Some(b"v".to_vec()));
        assert_eq!(f.seen[3], "GET /x X-aws-ec2-metadata-token=NEW");

        let mut f = fake(vec![
            Ok((200, "A")),
            Ok((401, "")),
            Ok((200, "B")),
            Ok((401, "")),
        ]);
        let mut log = |_: &str| {};
        let mut m = Imds::new(&mut f, later(), Duration::ZERO, &mut log);
        assert!(m.get("/x").is_err());
        assert_eq!(f.seen.len(), 4, "no third token: {:?}", f.seen);
    }

    #[test]
    fn budget_ends_the_retries() {
        let mut f = fake(vec![Err("no route to host")]);
        let mut logs = vec![];
        let mut log = |s: &str| logs.push(s.to_string());
        let mut m = Imds::new(&mut f, Instant::now(), Duration::ZERO, &mut log);
        let e = m.get("/x").unwrap_err();
        assert!(e.contains("no route to host"), "{e}");
        assert_eq!(f.seen.len(), 1);

        let mut f = fake(vec![Ok((200, "T")), Ok((500, ""))]);
        let mut log = |_: &str| {};
        let mut m = Imds::new(&mut f, Instant::now(), Duration::ZERO, &mut log);
        assert!(m.get("/x").unwrap_err().contains("HTTP 500"));
    }
}
