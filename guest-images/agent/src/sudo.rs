//! A minimal `sudo`: this binary installed setuid root as /usr/bin/sudo. Members of the
//! group `wheel` (and root) run a command as root without a password, as ec2-user does on
//! Amazon Linux (`ec2-user ALL=(ALL) NOPASSWD:ALL`). No sudoers file, no logging, no
//! other target users.

use crate::sys;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

const SECURE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const GROUP: &str = "wheel";

const USAGE: &str = "usage: sudo [-n] [-E] [-H] [-u root] command [arg ...]
       sudo -i | -s [command [arg ...]]
       sudo -l | -v | -k
ec2lab's sudo: members of the group wheel run commands as root, without a password.";

/// The user name for `uid` from /etc/passwd, or the number.
fn user_name(passwd: &str, uid: u32) -> String {
    passwd
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3 && f[2].parse() == Ok(uid)).then(|| f[0].to_string())
        })
        .next()
        .unwrap_or_else(|| uid.to_string())
}

/// Is the user allowed: root, or in `wheel` by primary group, supplementary group or
/// the group's member list.
pub fn allowed(group_file: &str, uid: u32, user: &str, gid: u32, groups: &[u32]) -> bool {
    if uid == 0 {
        return true;
    }
    group_file.lines().any(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 || f[0] != GROUP {
            return false;
        }
        let in_members = f[3].split(',').any(|m| m.trim() == user);
        let by_gid = f[2]
            .parse::<u32>()
            .is_ok_and(|g| g == gid || groups.contains(&g));
        in_members || by_gid
    })
}

#[derive(Debug, Default, PartialEq)]
pub struct Opts {
    pub login: bool,
    pub shell: bool,
    pub keep_env: bool,
    pub list: bool,
    pub noop: bool,
    pub command: Vec<OsString>,
}

pub fn parse(args: &[OsString]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_bytes();
        if a == b"--" {
            i += 1;
            break;
        }
        if a.first() != Some(&b'-') || a.len() < 2 {
            break;
        }
        match a {
            b"-u" | b"--user" => {
                i += 1;
                let u = args.get(i).map(|s| s.as_bytes()).unwrap_or_default();
                if u != b"root" && u != b"#0" {
                    return Err("only -u root is supported".into());
                }
            }
            b"-uroot" | b"--user=root" => {}
            b"-i" | b"--login" => o.login = true,
            b"-s" | b"--shell" => o.shell = true,
            b"-E" | b"--preserve-env" => o.keep_env = true,
            b"-n" | b"--non-interactive" | b"-H" | b"--set-home" | b"-S" | b"--stdin" => {}
            b"-l" | b"--list" => o.list = true,
            b"-v" | b"--validate" | b"-k" | b"--reset-timestamp" | b"-K" => o.noop = true,
            b"-h" | b"--help" | b"-V" | b"--version" => return Err(String::new()),
            _ => return Err(format!("unsupported option {}", String::from_utf8_lossy(a))),
        }
        i += 1;
    }
    o.command = args[i..].to_vec();
    if o.command.is_empty() && !o.login && !o.shell && !o.list && !o.noop {
        return Err(String::new());
    }
    Ok(o)
}

/// Quotes one word for `sh -c` (single quotes, each ' as '\'').
fn sh_quote(w: &[u8]) -> String {
    let s = String::from_utf8_lossy(w);
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub fn main(args: &[OsString]) -> i32 {
    let opts = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("sudo: {e}");
            }
            eprintln!("{USAGE}");
            return 1;
        }
    };
    if sys::euid() != 0 {
        eprintln!(
            "sudo: must be owned by root and have the setuid bit set (chmod 4755 /usr/bin/sudo)"
        );
        return 1;
    }
    let uid = sys::uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let user = user_name(&passwd, uid);
    let gid = sys::gid();
    let groups = sys::groups().unwrap_or_default();
    if !allowed(&group, uid, &user, gid, &groups) {
        eprintln!("sudo: {user} is not in the {GROUP} group: not allowed to run commands as root");
        return 1;
    }
    if opts.noop {
        return 0;
    }
    if opts.list {
        println!("User {user} may run the following commands:\n    (ALL) NOPASSWD: ALL");
        return 0;
    }
    if let Err(e) = sys::become_root() {
        eprintln!("sudo: cannot become root: {e}");
        return 1;
    }
    let term = std::env::var_os("TERM");
    let mut cmd;
    if opts.login || opts.shell {
        let shell = if opts.shell && opts.keep_env {
            std::env::var_os("SHELL").unwrap_or_else(|| "/bin/sh".into())
        } else {
            "/bin/sh".into()
        };
        cmd = Command::new(&shell);
        if opts.login {
            cmd.arg0("-sh").current_dir("/root");
        }
        if !opts.command.is_empty() {
            let line: Vec<String> = opts
                .command
                .iter()
                .map(|w| sh_quote(w.as_bytes()))
                .collect();
            cmd.arg("-c").arg(line.join(" "));
        }
    } else {
        cmd = Command::new(&opts.command[0]);
        cmd.args(&opts.command[1..]);
    }
    if !opts.keep_env {
        cmd.env_clear();
        if let Some(t) = term {
            cmd.env("TERM", t);
        }
        cmd.env("HOME", "/root")
            .env("SHELL", "/bin/sh")
            .env("USER", "root")
            .env("LOGNAME", "root");
    }
    let command_line: Vec<String> = opts
        .command
        .iter()
        .map(|w| String::from_utf8_lossy(w.as_bytes()).into_owned())
        .collect();
    cmd.env("PATH", SECURE_PATH)
        .env("SUDO_USER", &user)
        .env("SUDO_UID", uid.to_string())
        .env("SUDO_GID", gid.to_string())
        .env("SUDO_COMMAND", command_line.join(" "));
    let err = cmd.exec();
    let name = opts
        .command
        .first()
        .map(|c| String::from_utf8_lossy(c.as_bytes()).into_owned())
        .unwrap_or_else(|| "/bin/sh".into());
    if err.kind() == std::io::ErrorKind::NotFound {
        eprintln!("sudo: {name}: command not found");
        127
    } else {
        eprintln!("sudo: {name}: {err}");
        126
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: &str =
        "root:x:0:\ntty:x:5:\nwheel:x:10:ec2-user\nec2-user:x:1000:\nbob:x:1001:\n";

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn who_may_sudo() {
        assert!(allowed(GROUPS, 0, "root", 0, &[]));
        assert!(allowed(GROUPS, 1000, "ec2-user", 1000, &[1000, 10]));
        // Listed as a member even if this session's groups were not set up.
        assert!(allowed(GROUPS, 1000, "ec2-user", 1000, &[]));
        assert!(allowed(GROUPS, 1001, "bob", 1001, &[10]));
        assert!(!allowed(GROUPS, 1001, "bob", 1001, &[1001]));
        assert!(!allowed("root:x:0:\n", 1000, "ec2-user", 1000, &[10]));
    }

    #[test]
    fn names() {
        let pw = "root:x:0:0::/root:/bin/sh\nec2-user:x:1000:1000::/home/ec2-user:/bin/sh\n";
        assert_eq!(user_name(pw, 1000), "ec2-user");
        assert_eq!(user_name(pw, 7), "7");
    }

    #[test]
    fn options() {
        let o = parse(&os(&["-n", "-u", "root", "id", "-u"])).unwrap();
        assert_eq!(o.command, os(&["id", "-u"]));
        let o = parse(&os(&["-i"])).unwrap();
        assert!(o.login && o.command.is_empty());
        let o = parse(&os(&["--", "-weird"])).unwrap();
        assert_eq!(o.command, os(&["-weird"]));
        assert!(parse(&os(&["-u", "bob", "id"])).is_err());
        assert!(parse(&os(&[])).is_err());
        assert!(parse(&os(&["-Z", "id"])).is_err());
        assert!(parse(&os(&["-v"])).unwrap().noop);
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote(b"it's"), "'it'\\''s'");
    }
}
