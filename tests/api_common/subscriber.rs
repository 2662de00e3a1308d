//! SNS's subscribers on this host for the tests: an http endpoint (a plain TCP listener
//! that answers every request 200 and hands each request over) and a Maildir's mails.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use serde_json::Value;

/// One HTTP request as the subscriber saw it.
pub struct Received {
    /// The request method.
    pub method: String,
    /// Its headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// Its body.
    pub body: String,
}

impl Received {
    /// SNS's `x-amz-sns-message-type` (`SubscriptionConfirmation`, `Notification`).
    pub fn kind(&self) -> String {
        self.headers
            .get("x-amz-sns-message-type")
            .cloned()
            .unwrap_or_default()
    }

    /// The body as SNS's JSON envelope (`Null` when it is not JSON).
    pub fn envelope(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A subscriber endpoint on this host: answers every request 200 and hands it over.
pub fn subscriber(path: &str) -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let method = line.split(' ').next().unwrap_or_default().to_string();
            let mut headers = BTreeMap::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .unwrap();
            let _ = tx.send(Received {
                method,
                headers,
                body: String::from_utf8(body).unwrap(),
            });
        }
    });
    (url, rx)
}

/// The mails in a Maildir's `new/`, oldest first.
pub fn mails(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<_> = match std::fs::read_dir(dir.join("new")) {
        Ok(d) => d.map(|e| e.unwrap().path()).collect(),
        Err(_) => return Vec::new(),
    };
    names.sort();
    names
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}
