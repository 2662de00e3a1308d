//! `ec2lab serve` on a free port of this host for one test, stopped (SIGTERM, a graceful
//! stop) when dropped. Shared by the aws CLI/boto3 tests and the Rust SDK's.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use crate::common::Lab;

/// A running `ec2lab serve` and the endpoint it printed.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Server {
    /// Starts the server of `lab`'s state directory, with more environment for it (and the
    /// supervisors it starts), and waits for its `listening on` line.
    pub fn start(lab: &Lab, env: &[(&str, &str)]) -> Server {
        let mut cmd = lab.cmd(&["serve", "--listen", "127.0.0.1:0"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let endpoint = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("ec2lab serve said {line:?}"))
            .to_string();
        Server { child, endpoint }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) of our own child: SIGTERM asks for a graceful stop.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}
