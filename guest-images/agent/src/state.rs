//! Per-instance state, like cloud-init's semaphores: `<state>/<instance-id>/` exists once
//! the agent has seen that instance; `user-data.ran` is written (and synced) *before* the
//! user data runs, so it runs at most once per instance, across reboots and stop/start,
//! while an image made from the instance runs the new instance's user data.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const SCRIPT: &str = "user-data";
pub const RAN: &str = "user-data.ran";
pub const STATUS: &str = "user-data.status";

/// What the user data is, judged by its first bytes as cloud-init does.
#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    Empty,
    Script,
    CloudConfig,
    Gzip,
    Other(String),
}

pub fn classify(data: &[u8]) -> Kind {
    if data.iter().all(|b| b.is_ascii_whitespace()) {
        Kind::Empty
    } else if data.starts_with(b"#!") {
        Kind::Script
    } else if data.starts_with(b"#cloud-config") {
        Kind::CloudConfig
    } else if data.starts_with(&[0x1f, 0x8b]) {
        Kind::Gzip
    } else {
        let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
        let first: String = String::from_utf8_lossy(first).chars().take(40).collect();
        Kind::Other(first)
    }
}

/// An instance id is used as a directory name: only EC2-style characters, no `..`.
pub fn valid_instance_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `data` to `path` through a temporary file and a rename, synced to disk (for what
/// must survive a crash: the once-per-instance markers).
pub fn write_synced(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    write_file(path, data, mode, true)
}

/// Like `write_synced` without the two fsyncs (each a disk flush, emulated work here), for
/// files the agent writes again on every boot anyway (hostname, hosts, authorized_keys).
pub fn write_replace(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    write_file(path, data, mode, false)
}

fn write_file(path: &Path, data: &[u8], mode: u32, sync: bool) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(data)?;
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    if sync {
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if sync {
        sync_dir(path.parent().unwrap_or(Path::new("/")))?;
    }
    Ok(())
}

/// Creates the instance's directory if it is new. True the first time this instance boots
/// (this image has never run as this instance: it is a fresh launch or a new AMI's copy).
pub fn enter_instance(state_dir: &Path, id: &str) -> io::Result<(PathBuf, bool)> {
    let dir = state_dir.join(id);
    if dir.is_dir() {
        return Ok((dir, false));
    }
    fs::create_dir_all(state_dir)?;
    fs::DirBuilder::new().mode(0o700).create(&dir)?;
    sync_dir(state_dir)?;
    Ok((dir, true))
}

#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// No user data (404 or empty).
    Nothing,
    /// A script that already ran (or started) for this instance.
    AlreadyRan,
    /// Saved and marked: run this file now.
    Run(PathBuf),
    /// Not a `#!` script: the reason, for the log.
    Unsupported(String),
}

/// Decides what to do with this boot's user data and, for a script that has not run yet,
/// saves it (mode 0700) and marks it as run *before* it is started.
pub fn plan_user_data(inst_dir: &Path, data: Option<&[u8]>) -> io::Result<Plan> {
    let Some(data) = data else {
        return Ok(Plan::Nothing);
    };
    match classify(data) {
        Kind::Empty => Ok(Plan::Nothing),
        Kind::CloudConfig => Ok(Plan::Unsupported(
            "user data is #cloud-config; this image's agent runs only #! scripts, not cloud-config"
                .into(),
        )),
        Kind::Gzip => Ok(Plan::Unsupported(
            "user data is gzip-compressed; this image's agent runs only uncompressed #! scripts"
                .into(),
        )),
        Kind::Other(first) => Ok(Plan::Unsupported(format!(
            "user data starts with {first:?}; this image's agent runs only #! scripts"
        ))),
        Kind::Script => {
            if inst_dir.join(RAN).exists() {
                return Ok(Plan::AlreadyRan);
            }
            let script = inst_dir.join(SCRIPT);
            write_synced(&script, data, 0o700)?;
            // The marker goes first: a reboot while the script runs must not run it again.
            write_synced(&inst_dir.join(RAN), b"started\n", 0o600)?;
            Ok(Plan::Run(script))
        }
    }
}

pub fn record_status(inst_dir: &Path, status: i32) -> io::Result<()> {
    write_synced(
        &inst_dir.join(STATUS),
        format!("{status}\n").as_bytes(),
        0o600,
    )
}

/// The program and arguments that run a saved `#!` script. The kernel runs it directly,
/// except that `bash` (which this image does not have) becomes busybox `sh`, without the
/// extra exec that the `/bin/bash` wrapper would cost.
pub fn command_for(script: &Path, data: &[u8]) -> (PathBuf, Vec<String>) {
    let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(first.strip_prefix(b"#!").unwrap_or_default())
        .trim()
        .to_string();
    // The kernel splits "#!interp rest" into the interpreter and one optional argument.
    let (interp, arg) = match line.split_once([' ', '\t']) {
        Some((i, a)) => (i.to_string(), a.trim().to_string()),
        None => (line.clone(), String::new()),
    };
    let bash = |p: &str| p == "/bin/bash" || p == "/usr/bin/bash";
    let script_arg = script.to_string_lossy().into_owned();
    if bash(&interp) {
        let mut args: Vec<String> = Vec::new();
        if !arg.is_empty() {
            args.push(arg);
        }
        args.push(script_arg);
        return ("/bin/sh".into(), args);
    }
    if interp == "/usr/bin/env" && (arg == "bash" || arg.starts_with("bash ")) {
        let mut args: Vec<String> = arg.split_whitespace().skip(1).map(str::to_string).collect();
        args.push(script_arg);
        return ("/bin/sh".into(), args);
    }
    (script.to_path_buf(), Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("ec2lab-agent-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn classify_formats() {
        assert_eq!(classify(b"#!/bin/sh\necho hi\n"), Kind::Script);
        assert_eq!(
            classify(b"#cloud-config\npackages: [httpd]\n"),
            Kind::CloudConfig
        );
        assert_eq!(classify(&[0x1f, 0x8b, 8, 0]), Kind::Gzip);
        assert_eq!(classify(b" \n\t"), Kind::Empty);
        assert_eq!(classify(b""), Kind::Empty);
        assert_eq!(
            classify(b"echo hi\nmore"),
            Kind::Other("echo hi".to_string())
        );
    }

    #[test]
    fn instance_ids() {
        assert!(valid_instance_id("i-0123456789abcdef0"));
        for bad in ["", ".", "..", "a/b", "../x", "i 1", &"x".repeat(65)] {
            assert!(!valid_instance_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn user_data_runs_once_per_instance() {
        let state = tmpdir("once");
        let script = b"#!/bin/sh\necho hi\n";
        let (a, new) = enter_instance(&state, "i-a").unwrap();
        assert!(new);
        let plan = plan_user_data(&a, Some(script)).unwrap();
        let Plan::Run(path) = plan else {
            panic!("{plan:?}")
        };
        assert_eq!(fs::read(&path).unwrap(), script);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o700
        );
        // Marked before it runs: the next boot (even mid-script) does not run it again.
        assert!(a.join(RAN).exists());
        let (a2, new) = enter_instance(&state, "i-a").unwrap();
        assert!(!new);
        assert_eq!(plan_user_data(&a2, Some(script)).unwrap(), Plan::AlreadyRan);
        record_status(&a2, 3).unwrap();
        assert_eq!(fs::read_to_string(a2.join(STATUS)).unwrap(), "3\n");
        // An image of this instance launched as another instance: its user data runs.
        let (b, new) = enter_instance(&state, "i-b").unwrap();
        assert!(new);
        assert!(matches!(
            plan_user_data(&b, Some(b"#!/bin/sh\necho b\n")).unwrap(),
            Plan::Run(_)
        ));
        fs::remove_dir_all(&state).unwrap();
    }

    #[test]
    fn no_or_unsupported_user_data_marks_nothing() {
        let state = tmpdir("none");
        let (a, _) = enter_instance(&state, "i-a").unwrap();
        assert_eq!(plan_user_data(&a, None).unwrap(), Plan::Nothing);
        assert_eq!(plan_user_data(&a, Some(b"")).unwrap(), Plan::Nothing);
        for data in [&b"#cloud-config\n"[..], &[0x1f, 0x8b, 1][..], b"hello"] {
            assert!(matches!(
                plan_user_data(&a, Some(data)).unwrap(),
                Plan::Unsupported(_)
            ));
        }
        assert!(!a.join(RAN).exists());
        fs::remove_dir_all(&state).unwrap();
    }

    #[test]
    fn bash_scripts_run_under_sh() {
        let p = Path::new("/s");
        assert_eq!(
            command_for(p, b"#!/bin/bash\nx"),
            ("/bin/sh".into(), vec!["/s".to_string()])
        );
        assert_eq!(
            command_for(p, b"#!/bin/bash -xe\nx"),
            ("/bin/sh".into(), vec!["-xe".to_string(), "/s".to_string()])
        );
        assert_eq!(
            command_for(p, b"#!/usr/bin/env bash\nx"),
            ("/bin/sh".into(), vec!["/s".to_string()])
        );
        assert_eq!(command_for(p, b"#!/bin/sh\nx"), ("/s".into(), vec![]));
        assert_eq!(
            command_for(p, b"#!/usr/bin/env python3\nx"),
            ("/s".into(), vec![])
        );
    }
}
