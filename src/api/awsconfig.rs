//! The AWS tools' shared config and credentials files: `ec2lab configure-aws` writes one
//! profile into them and leaves every other line as it was. Only section boundaries are
//! parsed (an INI library would rewrite the other profiles in its own format).

use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why a file could not be updated.
#[derive(Debug, Error)]
pub enum AwsConfigError {
    /// Neither the environment variable nor `$HOME` says where the file is.
    #[error("cannot find the AWS {what} file: set {var} or HOME")]
    NoPath {
        /// `config` or `credentials`.
        what: &'static str,
        /// The variable that names it.
        var: &'static str,
    },
    /// The profile name cannot be a section name.
    #[error("the profile name '{0}' is not usable: use letters, digits, '-', '_' and '.'")]
    BadProfile(String),
    /// Reading failed.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Writing failed.
    #[error("cannot write {path}: check the permissions of the file and its directory")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Where the AWS tools read their config file: `$AWS_CONFIG_FILE`, else `~/.aws/config`.
pub fn config_path() -> Result<PathBuf, AwsConfigError> {
    tool_path("AWS_CONFIG_FILE", "config")
}

/// Where the AWS tools read their credentials: `$AWS_SHARED_CREDENTIALS_FILE`, else
/// `~/.aws/credentials`.
pub fn credentials_path() -> Result<PathBuf, AwsConfigError> {
    tool_path("AWS_SHARED_CREDENTIALS_FILE", "credentials")
}

fn tool_path(var: &'static str, what: &'static str) -> Result<PathBuf, AwsConfigError> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(v) => {
            let v = PathBuf::from(v);
            // botocore expands a leading `~` in these variables.
            match (v.strip_prefix("~"), home) {
                (Ok(rest), Some(h)) => Ok(PathBuf::from(h).join(rest)),
                _ => Ok(v),
            }
        }
        None => home
            .map(|h| PathBuf::from(h).join(".aws").join(what))
            .ok_or(AwsConfigError::NoPath { what, var }),
    }
}

/// Checks a profile name (it becomes `[profile NAME]` and `[NAME]`).
pub fn check_profile(name: &str) -> Result<(), AwsConfigError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(AwsConfigError::BadProfile(name.into()))
    }
}

/// The config file's section of a profile (`default` has no `profile ` prefix).
pub fn config_section(profile: &str) -> String {
    if profile == "default" {
        profile.into()
    } else {
        format!("profile {profile}")
    }
}

/// Sets `entries` in `[section]` of an INI text: the section's other keys and every other
/// section stay as they are; a missing section is appended.
pub fn set_section(text: &str, section: &str, entries: &[(&str, &str)]) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let header_name = |l: &str| -> Option<String> {
        let t = l.trim();
        let inner = t.strip_prefix('[')?.strip_suffix(']')?;
        Some(inner.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    let start = lines
        .iter()
        .position(|l| header_name(l).as_deref() == Some(section));
    let mut out: Vec<String> = Vec::new();
    match start {
        None => {
            out.extend(lines.iter().map(|l| l.to_string()));
            if out.last().is_some_and(|l| !l.trim().is_empty()) {
                out.push(String::new());
            }
            out.push(format!("[{section}]"));
            out.extend(entries.iter().map(|(k, v)| format!("{k} = {v}")));
        }
        Some(start) => {
            let end = lines[start + 1..]
                .iter()
                .position(|l| header_name(l).is_some())
                .map_or(lines.len(), |p| start + 1 + p);
            out.extend(lines[..=start].iter().map(|l| l.to_string()));
            let mut body: Vec<String> = Vec::new();
            let mut skipping = false;
            for l in &lines[start + 1..end] {
                let continuation = l.starts_with([' ', '\t']) && !l.trim().is_empty();
                if continuation && skipping {
                    continue;
                }
                skipping = false;
                let key = l.split_once('=').map(|(k, _)| k.trim());
                match key.and_then(|k| entries.iter().find(|(e, _)| *e == k)) {
                    Some((k, v)) if !continuation => {
                        body.push(format!("{k} = {v}"));
                        skipping = true;
                    }
                    _ => body.push(l.to_string()),
                }
            }
            // Keys the section did not have yet go after its last non-blank line.
            let keep_blank = body
                .iter()
                .rev()
                .take_while(|l| l.trim().is_empty())
                .count();
            let tail = body.split_off(body.len() - keep_blank);
            for (k, v) in entries {
                let present = body.iter().any(|l| {
                    !l.starts_with([' ', '\t'])
                        && l.split_once('=').is_some_and(|(key, _)| key.trim() == *k)
                });
                if !present {
                    body.push(format!("{k} = {v}"));
                }
            }
            out.extend(body);
            out.extend(tail);
            out.extend(lines[end..].iter().map(|l| l.to_string()));
        }
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// Updates `[section]` of the file at `path` (following a symlink), keeping the file's
/// mode and owner; a new file (and its directory) is private to its owner.
pub fn update_file(
    path: &Path,
    section: &str,
    entries: &[(&str, &str)],
) -> Result<(), AwsConfigError> {
    let write_err = |source| AwsConfigError::Write {
        path: path.to_path_buf(),
        source,
    };
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let (old, meta) = match std::fs::read_to_string(&target) {
        Ok(t) => (t, std::fs::metadata(&target).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), None),
        Err(source) => {
            return Err(AwsConfigError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let dir = target.parent().unwrap_or(Path::new("."));
    if !dir.as_os_str().is_empty() && !dir.exists() {
        std::fs::create_dir_all(dir).map_err(write_err)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(write_err)?;
    }
    let text = set_section(&old, section, entries);
    let mode = meta
        .as_ref()
        .map_or(0o600, |m| m.permissions().mode() & 0o7777);
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.ec2lab-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if let Some(m) = &meta {
            std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()))?;
        }
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        std::fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_section_changes() {
        let text = "# mine\n[default]\nregion = us-east-1\n\n[profile ec2lab]\nregion = old\ncli_pager =\ns3 =\n  max = 1\nendpoint_url = http://old\n\n[profile other]\noutput = text\n";
        let out = set_section(
            text,
            "profile ec2lab",
            &[
                ("endpoint_url", "http://new"),
                ("region", "lab-1"),
                ("output", "json"),
            ],
        );
        assert_eq!(
            out,
            "# mine\n[default]\nregion = us-east-1\n\n[profile ec2lab]\nregion = lab-1\ncli_pager =\ns3 =\n  max = 1\nendpoint_url = http://new\noutput = json\n\n[profile other]\noutput = text\n"
        );
        // Idempotent.
        assert_eq!(
            set_section(
                &out,
                "profile ec2lab",
                &[
                    ("endpoint_url", "http://new"),
                    ("region", "lab-1"),
                    ("output", "json")
                ],
            ),
            out
        );
        let fresh = set_section("", "ec2lab", &[("aws_access_key_id", "AKIA")]);
        assert_eq!(fresh, "[ec2lab]\naws_access_key_id = AKIA\n");
        let appended = set_section("[default]\nx = 1", "ec2lab", &[("k", "v")]);
        assert_eq!(appended, "[default]\nx = 1\n\n[ec2lab]\nk = v\n");
    }

    #[test]
    fn files_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config");
        std::fs::write(&p, "[default]\nregion = x\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        update_file(&p, "profile ec2lab", &[("region", "lab-1")]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "[default]\nregion = x\n\n[profile ec2lab]\nregion = lab-1\n"
        );
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let new = dir.path().join("sub/credentials");
        update_file(&new, "ec2lab", &[("k", "v")]).unwrap();
        let mode = std::fs::metadata(&new).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(check_profile("ec2lab").is_ok());
        assert!(check_profile("bad name]").is_err());
    }
}
