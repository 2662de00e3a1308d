//! Running `nft`: the one place ec2lab does. Scripts go in on stdin, as one atomic
//! transaction; in the host's network namespace, or in a named one (`ip netns exec`),
//! which the tests use.

use std::io::Write;
use std::process::{Command, Stdio};

use super::render::removal_script;
use super::validate::TableName;

/// Environment variable that overrides the `nft` binary.
pub const NFT_ENV: &str = "EC2LAB_NFT";

/// `nft` could not be run, or refused a script.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// The command could not be started, or its stdin not written.
    #[error("cannot run `{cmd}`; is the nftables package installed (apt-get install nftables)? set {NFT_ENV} to the nft binary if it is elsewhere")]
    Spawn {
        /// The command line.
        cmd: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// nft ran and failed; what it printed says why.
    #[error("`{cmd}` failed ({status}): {stderr}; nothing was changed (the transaction is atomic). Are you root (CAP_NET_ADMIN)? Is the kernel built with nf_tables?")]
    Nft {
        /// The command line.
        cmd: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
}

impl NftError {
    /// The message followed by its cause, for errors that carry only text
    /// ([`Ec2Error`](crate::error::Ec2Error)).
    pub fn with_cause(&self) -> String {
        match std::error::Error::source(self) {
            Some(cause) => format!("{self}: {cause}"),
            None => self.to_string(),
        }
    }
}

/// Where nft runs: the host's network namespace or a named one.
#[derive(Debug, Clone, Copy)]
pub struct Nft<'a> {
    netns: Option<&'a str>,
}

impl Nft<'static> {
    /// nft in the host's (this process's) network namespace.
    pub fn host() -> Self {
        Nft { netns: None }
    }
}

impl<'a> Nft<'a> {
    /// nft inside the network namespace `name` (`ip netns exec`).
    pub fn netns(name: &'a str) -> Self {
        Nft { netns: Some(name) }
    }

    fn command(&self) -> Command {
        let nft = std::env::var(NFT_ENV).unwrap_or_else(|_| "nft".to_string());
        match self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, &nft]);
                c
            }
            None => Command::new(nft),
        }
    }

    fn run(&self, args: &[&str], script: &str) -> Result<(), NftError> {
        let mut cmd = self.command();
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let shown = format!("{cmd:?}");
        let mut child = cmd.spawn().map_err(|source| NftError::Spawn {
            cmd: shown.clone(),
            source,
        })?;
        // Scripts are small; nft reads all of stdin before replying.
        let write = child
            .stdin
            .take()
            .map(|mut stdin| stdin.write_all(script.as_bytes()));
        let output = child.wait_with_output().map_err(|source| NftError::Spawn {
            cmd: shown.clone(),
            source,
        })?;
        if !output.status.success() {
            return Err(NftError::Nft {
                cmd: shown,
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        if let Some(Err(source)) = write {
            return Err(NftError::Spawn { cmd: shown, source });
        }
        Ok(())
    }

    /// Loads `script` (from [`render`](fn@super::render)) as one atomic transaction.
    pub fn apply(&self, script: &str) -> Result<(), NftError> {
        self.run(&["-f", "-"], script)
    }

    /// Parses and checks `script` against the kernel without changing anything
    /// (`nft -c`).
    pub fn check(&self, script: &str) -> Result<(), NftError> {
        self.run(&["-c", "-f", "-"], script)
    }

    /// Deletes the tables of each name in `tables` (only those), in one transaction;
    /// fine if they are absent.
    pub fn remove(&self, tables: &[&TableName]) -> Result<(), NftError> {
        if tables.is_empty() {
            return Ok(());
        }
        let script: String = tables.iter().map(|t| removal_script(t)).collect();
        self.apply(&script)
    }

    /// Both tables named `table` as the kernel has them, without counters and set
    /// elements (`nft -s -t`), so two listings of one ruleset compare equal however much
    /// traffic passed; `None` when either table is missing.
    pub fn listing(&self, table: &TableName) -> Option<String> {
        let mut text = String::new();
        for family in ["bridge", "inet"] {
            let out = self
                .command()
                .args(["-s", "-t", "list", "table", family, table.as_str()])
                .stdin(Stdio::null())
                .output()
                .ok()?;
            if !out.status.success() {
                return None;
            }
            text.push_str(&String::from_utf8_lossy(&out.stdout));
        }
        Some(text)
    }
}
