//! Sending SNS's deliveries: `http`/`https` as a POST of the JSON envelope with SNS's
//! headers (ureq), `email`/`email-json` as an RFC 5322 mail through the host's
//! `sendmail` where there is one, else into a Maildir under the state directory
//! (`<state>/<region>/mail/<address>/{tmp,new,cur}`). A delivery that fails is tried again
//! with exponential back-off (20 s doubling to 10 minutes, 10 tries in all), recorded in
//! the store; [`deliver_pending`] runs the ones that are due.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rusqlite::{params, Transaction};

use super::common::now_ms;
use crate::error::Ec2Error;
use crate::store::Store;
use serde::{Deserialize, Serialize};

/// One message for one subscriber, as stored until it is delivered.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Delivery {
    /// `SubscriptionConfirmation` or `Notification`.
    pub message_type: String,
    /// The message's id.
    pub message_id: String,
    /// The topic.
    pub topic_arn: String,
    /// The JSON envelope (the body for `http`, `https`, `email-json`).
    pub envelope: String,
    /// The mail's subject (`email`).
    pub mail_subject: String,
    /// The mail's text (`email`).
    pub mail_text: String,
    /// The mail's sender name (the topic's `DisplayName`, else SNS's).
    pub mail_from_name: String,
}

/// Tries in all before a delivery is given up (kept, `failed`, with its last error).
pub const MAX_ATTEMPTS: i64 = 10;
/// The first retry's delay; each next one doubles, up to [`MAX_DELAY_MS`].
pub const MIN_DELAY_MS: i64 = 20_000;
/// The longest delay between tries.
pub const MAX_DELAY_MS: i64 = 600_000;
/// How long a delivery being tried is kept from other deliverers (the daemon and a
/// `Publish` may run at once).
const LEASE_MS: i64 = 60_000;
/// How long an HTTP delivery may take (SNS allows 15 s).
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// The retry policy above, as `GetTopicAttributes` reports it.
pub const EFFECTIVE_DELIVERY_POLICY: &str = r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":600,"numRetries":9,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"exponential"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}"#;

/// The wait after the `attempts`-th failed try.
pub fn backoff_ms(attempts: i64) -> i64 {
    let shift = (attempts - 1).clamp(0, 20) as u32;
    (MIN_DELAY_MS << shift).min(MAX_DELAY_MS)
}

/// Queues `d` for subscription `sub`, due now; its id.
pub(crate) fn queue(tx: &Transaction, sub: &str, d: &Delivery, now: i64) -> Result<i64, Ec2Error> {
    tx.execute(
        "INSERT INTO sns_deliveries (subscription_arn, payload, attempts, next_ms, created_ms)
         VALUES (?1, ?2, 0, ?3, ?3)",
        params![sub, serde_json::to_string(d).expect("a delivery"), now],
    )?;
    Ok(tx.last_insert_rowid())
}

/// A delivery taken for trying.
struct Claimed {
    id: i64,
    subscription_arn: String,
    protocol: String,
    endpoint: String,
    attempts: i64,
    delivery: Delivery,
}

/// Takes the due deliveries (`only`: of these ids) for trying: each is leased, so
/// another deliverer leaves it alone while it is on the network.
fn claim(store: &mut Store, now: i64, only: Option<&[i64]>) -> Result<Vec<Claimed>, Ec2Error> {
    store.write(|tx| {
        let mut stmt = tx.prepare(
            "SELECT d.delivery_id, d.subscription_arn, s.protocol, s.endpoint, d.attempts, d.payload
             FROM sns_deliveries d JOIN sns_subscriptions s USING (subscription_arn)
             WHERE d.state = 'pending' AND d.next_ms <= ?1
             ORDER BY d.next_ms, d.delivery_id",
        )?;
        let rows = stmt
            .query_map([now], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::new();
        for (id, sub, protocol, endpoint, attempts, payload) in rows {
            if only.is_some_and(|ids| !ids.contains(&id)) {
                continue;
            }
            let Ok(delivery) = serde_json::from_str::<Delivery>(&payload) else {
                tx.execute(
                    "UPDATE sns_deliveries SET state = 'failed', last_error = 'unreadable payload' WHERE delivery_id = ?1",
                    [id],
                )?;
                continue;
            };
            tx.execute(
                "UPDATE sns_deliveries SET next_ms = ?2 WHERE delivery_id = ?1",
                params![id, now + LEASE_MS],
            )?;
            out.push(Claimed { id, subscription_arn: sub, protocol, endpoint, attempts, delivery });
        }
        Ok(out)
    })
}

/// Records how a try went: a delivered one is removed, a failed one waits its back-off.
fn record(
    store: &mut Store,
    c: &Claimed,
    outcome: Result<(), String>,
    now: i64,
) -> Result<(), Ec2Error> {
    store.write(|tx| {
        match &outcome {
            Ok(()) => {
                tx.execute("DELETE FROM sns_deliveries WHERE delivery_id = ?1", [c.id])?;
            }
            Err(e) => {
                let attempts = c.attempts + 1;
                let state = if attempts >= MAX_ATTEMPTS { "failed" } else { "pending" };
                tx.execute(
                    "UPDATE sns_deliveries SET attempts = ?2, next_ms = ?3, last_error = ?4, state = ?5
                     WHERE delivery_id = ?1",
                    params![c.id, attempts, now + backoff_ms(attempts), e, state],
                )?;
            }
        }
        Ok(())
    })
}

fn run(store: &mut Store, claimed: Vec<Claimed>) -> Result<usize, Ec2Error> {
    let mut delivered = 0;
    for c in claimed {
        let outcome = send(store, &c);
        if outcome.is_ok() {
            delivered += 1;
        }
        record(store, &c, outcome, now_ms())?;
    }
    Ok(delivered)
}

/// Tries the deliveries `ids` once now (what `Subscribe` and `Publish` do themselves).
pub(crate) fn try_now(store: &mut Store, ids: &[i64]) -> Result<usize, Ec2Error> {
    if ids.is_empty() {
        return Ok(0);
    }
    let claimed = claim(store, now_ms(), Some(ids))?;
    run(store, claimed)
}

/// Tries every delivery that is due at `now_ms` (new ones, and failed ones whose back-off
/// has passed); how many were delivered. The region's monitoring daemon calls this every
/// 10 s.
pub fn deliver_pending(store: &mut Store, now_ms: i64) -> Result<usize, Ec2Error> {
    let claimed = claim(store, now_ms, None)?;
    run(store, claimed)
}

/// Whether any delivery is still to be tried (the daemon keeps running while one is).
pub fn any_pending(store: &Store) -> Result<bool, Ec2Error> {
    Ok(store.conn().query_row(
        "SELECT EXISTS (SELECT 1 FROM sns_deliveries WHERE state = 'pending')",
        [],
        |r| r.get(0),
    )?)
}

fn send(store: &Store, c: &Claimed) -> Result<(), String> {
    match c.protocol.as_str() {
        "http" | "https" => post(c),
        "email" | "email-json" => mail(store, c),
        other => Err(format!("ec2lab does not deliver to {other}")),
    }
}

fn post(c: &Claimed) -> Result<(), String> {
    let d = &c.delivery;
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(HTTP_TIMEOUT))
        .build()
        .new_agent();
    let mut req = agent
        .post(&c.endpoint)
        .header("Content-Type", "text/plain; charset=UTF-8")
        .header("User-Agent", "Amazon Simple Notification Service Agent")
        .header("x-amz-sns-message-type", &d.message_type)
        .header("x-amz-sns-message-id", &d.message_id)
        .header("x-amz-sns-topic-arn", &d.topic_arn);
    if d.message_type == "Notification" {
        req = req.header("x-amz-sns-subscription-arn", &c.subscription_arn);
    }
    match req.send(d.envelope.as_bytes()) {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => Err(format!("the endpoint answered HTTP {}", resp.status())),
        Err(e) => Err(format!("POST {}: {e}", c.endpoint)),
    }
}

/// The host's `sendmail`: `$EC2LAB_SENDMAIL` (`none` for the Maildir), else
/// `/usr/sbin/sendmail` where it exists.
fn sendmail() -> Option<PathBuf> {
    match std::env::var("EC2LAB_SENDMAIL") {
        Ok(v) if v.is_empty() || v == "none" => None,
        Ok(v) => Some(PathBuf::from(v)),
        Err(_) => Some(PathBuf::from("/usr/sbin/sendmail")).filter(|p| p.exists()),
    }
}

/// Where `address`'s mail goes when there is no `sendmail`: a Maildir in the region root.
pub fn maildir(region_root: &Path, address: &str) -> PathBuf {
    region_root.join("mail").join(address)
}

fn mail(store: &Store, c: &Claimed) -> Result<(), String> {
    if !super::subscriptions::is_mail_address(&c.endpoint) {
        return Err(format!("{:?} is not a mail address", c.endpoint));
    }
    let text = message(store, c);
    match sendmail() {
        Some(path) => {
            let mut child = Command::new(&path)
                .args(["-i", "--", &c.endpoint])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let wrote = child
                .stdin
                .take()
                .expect("piped")
                .write_all(text.as_bytes());
            let out = child.wait_with_output().map_err(|e| e.to_string())?;
            wrote.map_err(|e| format!("{}: {e}", path.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "{} failed ({}): {}",
                    path.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Ok(())
        }
        None => to_maildir(
            &maildir(store.root(), &c.endpoint),
            &c.delivery.message_id,
            &text,
        )
        .map_err(|e| format!("the Maildir of {}: {e}", c.endpoint)),
    }
}

/// Writes one message into a Maildir (`tmp/` then renamed into `new/`, as Maildir asks).
fn to_maildir(dir: &Path, unique: &str, text: &str) -> std::io::Result<()> {
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // Microseconds zero-padded, so that names sort in delivery order (`ls`, readers).
    let name = format!(
        "{}.M{:06}P{}R{unique}.ec2lab",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id()
    );
    let tmp = dir.join("tmp").join(&name);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join("new").join(&name))
}

/// A header value: as it is when ASCII, else RFC 2047's encoded word.
fn header_text(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        s.to_string()
    } else {
        use base64ct::{Base64, Encoding};
        format!("=?UTF-8?B?{}?=", Base64::encode_string(s.as_bytes()))
    }
}

/// The RFC 5322 message of a mail delivery.
fn message(store: &Store, c: &Claimed) -> String {
    let d = &c.delivery;
    let body = if c.protocol == "email-json" {
        d.envelope.clone()
    } else {
        d.mail_text.clone()
    };
    let name = header_text(&d.mail_from_name).replace('"', "'");
    format!(
        "From: \"{name}\" <no-reply@sns.{region}.ec2lab.invalid>\n\
         To: {to}\n\
         Subject: {subject}\n\
         Date: {date}\n\
         Message-ID: <{id}@sns.{region}.ec2lab.invalid>\n\
         MIME-Version: 1.0\n\
         Content-Type: text/plain; charset=UTF-8\n\
         Content-Transfer-Encoding: 8bit\n\
         x-amz-sns-message-type: {kind}\n\
         x-amz-sns-message-id: {id}\n\
         x-amz-sns-topic-arn: {topic}\n\
         \n\
         {body}",
        region = store.region(),
        to = c.endpoint,
        subject = header_text(&d.mail_subject),
        date = rfc5322_date(now_ms()),
        id = d.message_id,
        kind = d.message_type,
        topic = d.topic_arn,
    )
}

/// `Thu, 03 Dec 2026 15:41:31 +0000`.
fn rfc5322_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let iso = crate::store::iso8601(secs, 0);
    let weekday = DAYS[secs.div_euclid(86_400).rem_euclid(7) as usize];
    let month: usize = iso[5..7].parse().unwrap_or(1);
    format!(
        "{weekday}, {} {} {} {} +0000",
        &iso[8..10],
        MONTHS[month - 1],
        &iso[0..4],
        &iso[11..19]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sns::shapes::{CreateTopicInput, SubscribeInput};
    use std::io::{Read, Write};

    fn state(store: &Store) -> (i64, i64, Option<String>, String) {
        store
            .conn()
            .query_row(
                "SELECT attempts, next_ms, last_error, state FROM sns_deliveries",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap()
    }

    /// A subscriber that is down gets its confirmation request later, from
    /// `deliver_pending` once the back-off has passed; the try is recorded meanwhile.
    #[test]
    fn a_failed_delivery_is_retried_after_its_back_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), "lab-1").unwrap();
        let topic = crate::sns::topics::create_topic(
            &mut store,
            &CreateTopicInput {
                name: "t".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .topic_arn;
        // A port with nobody on it (yet).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let before = crate::sns::common::now_ms();
        crate::sns::subscriptions::subscribe(
            &mut store,
            &SubscribeInput {
                topic_arn: topic,
                protocol: "http".into(),
                endpoint: Some(format!("http://127.0.0.1:{port}/hook")),
                ..Default::default()
            },
        )
        .unwrap();
        let (attempts, next, error, st) = state(&store);
        assert_eq!((attempts, st.as_str()), (1, "pending"));
        assert!(next >= before + MIN_DELAY_MS, "{next} {before}");
        assert!(error.unwrap().contains("POST http://127.0.0.1:"));
        assert!(any_pending(&store).unwrap());
        // Not due yet: nothing is tried.
        assert_eq!(deliver_pending(&mut store, before + 1_000).unwrap(), 0);
        assert_eq!(state(&store).0, 1);

        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let got = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Headers and the (small) body arrive before the answer is awaited.
            loop {
                let n = s.read(&mut chunk).unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap();
                    if body.len() >= len {
                        break;
                    }
                }
            }
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .unwrap();
            String::from_utf8(buf).unwrap()
        });
        assert_eq!(deliver_pending(&mut store, next).unwrap(), 1);
        let request = got.join().unwrap();
        assert!(request.starts_with("POST /hook HTTP/1.1\r\n"), "{request}");
        assert!(
            request.contains("x-amz-sns-message-type: SubscriptionConfirmation"),
            "{request}"
        );
        assert!(
            request.contains("\"Type\" : \"SubscriptionConfirmation\""),
            "{request}"
        );
        assert!(!any_pending(&store).unwrap());
    }

    #[test]
    fn back_off_doubles_to_its_cap() {
        assert_eq!(backoff_ms(1), 20_000);
        assert_eq!(backoff_ms(2), 40_000);
        assert_eq!(backoff_ms(5), 320_000);
        assert_eq!(backoff_ms(6), 600_000);
        assert_eq!(backoff_ms(40), 600_000);
    }

    #[test]
    fn mail_dates_and_headers() {
        assert_eq!(
            rfc5322_date(1_796_312_491_000),
            "Thu, 03 Dec 2026 15:41:31 +0000"
        );
        assert_eq!(header_text("Alarm"), "Alarm");
        assert_eq!(header_text("경보"), "=?UTF-8?B?6rK967O0?=");
    }
}
