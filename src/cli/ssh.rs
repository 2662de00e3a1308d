//! `ec2lab ssh`: log in to an instance with the system's OpenSSH client, using the
//! instance's address and its key pair's private key file.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::Value;

use super::ctx::{Ctx, Failure};
use crate::error::Ec2Error;
use crate::instances::record::Instance;
use crate::instances::state::State;
use crate::keypairs::KeyPair;
use crate::net::eni::Eni;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  ec2lab create-key-pair --key-name web --output-file ~/.ssh/web.pem\n  \
  ec2lab run-instances --image-id ami-… --key-name web\n  \
  ec2lab ssh i-0123456789abcdef0                          # a shell, as ec2-user\n  \
  ec2lab ssh i-0123456789abcdef0 -- sudo uname -a         # one command (sudo: root)\n  \
  ec2lab ssh i-0123456789abcdef0 -i ~/.ssh/laptop         # an imported key's private half\n\n  \
  Connects to the public address (the private one if there is none) with the system's ssh\n  \
  (openssh-client), which replaces this process: its exit code is the command's. The key is\n  \
  -i, or else the file create-key-pair --output-file wrote for the instance's key pair. The\n  \
  instance's security groups must allow TCP port 22 from this host.")]
/// Log in to a running instance with ssh and its key pair.
pub struct SshArgs {
    /// The instance to log in to (it must be running).
    pub instance_id: String,
    /// Private key file (default: the one create-key-pair --output-file wrote).
    #[arg(short = 'i', long = "identity-file")]
    pub identity_file: Option<PathBuf>,
    /// User to log in as.
    #[arg(short = 'l', long = "login-name", default_value = "ec2-user")]
    pub login_name: String,
    /// A command to run instead of a login shell (after --).
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// The arguments for `ssh`, from the key, user, address and command.
pub fn ssh_args(key: &Path, user: &str, host: &str, command: &[String]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-i".into(), key.into()];
    for opt in [
        // Only this key: an agent full of other keys could exhaust the server's
        // MaxAuthTries before this one is offered.
        "IdentitiesOnly=yes",
        // Every instance makes new host keys at first boot and addresses are reused
        // across instances, so a known_hosts entry would be wrong or would block the next
        // instance at this address; nothing is learned or written.
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        // ... and so the "Permanently added" warning each time is noise.
        "LogLevel=ERROR",
        "ConnectTimeout=10",
    ] {
        args.push("-o".into());
        args.push(opt.into());
    }
    // "--" ends ssh's options: ssh reads options after the destination too, so a command
    // like `ls -l` would otherwise be taken apart.
    args.push("--".into());
    args.push(format!("{user}@{host}").into());
    args.extend(command.iter().map(OsString::from));
    args
}

/// What `ec2lab ssh` connects to, and with which key.
pub fn target(c: &rusqlite::Connection, a: &SshArgs) -> Result<(PathBuf, String), Ec2Error> {
    Ec2Error::check_id(&a.instance_id, "i", "Instance")?;
    let inst = Instance::get(c, &a.instance_id)?;
    if inst.state != State::Running {
        return Err(Ec2Error::incorrect_state(
            &inst.instance_id,
            inst.state.name(),
            "connected to over ssh (start it and wait until it is running)",
        ));
    }
    let host = match Eni::of_instance(c, &inst.instance_id)? {
        Some(eni) => eni.public_ip.unwrap_or(eni.private_ip).to_string(),
        None => {
            return Err(Ec2Error::invalid_parameter(format!(
                "The instance '{}' has no network interface (it was launched with \
                     EC2LAB_NETWORKING=off), so there is no address to connect to",
                inst.instance_id
            )))
        }
    };
    let key = match (&a.identity_file, &inst.key_name) {
        (Some(k), _) => k.clone(),
        (None, Some(name)) => match KeyPair::find(c, name)?.and_then(|k| k.private_key_file) {
            Some(f) if f.is_file() => f,
            Some(f) => {
                return Err(Ec2Error::invalid_parameter(format!(
                    "The private key file of key pair '{name}', {}, is gone; pass the key with -i KEY_FILE",
                    f.display()
                )))
            }
            None => {
                return Err(Ec2Error::invalid_parameter(format!(
                    "ec2lab does not have a private key file for key pair '{name}' (it was imported, \
                     deleted, or created without --output-file); pass the key with -i KEY_FILE"
                )))
            }
        },
        (None, None) => {
            return Err(Ec2Error::invalid_parameter(format!(
                "The instance '{}' was launched without a key pair; pass a key its guest accepts \
                 with -i KEY_FILE",
                inst.instance_id
            )))
        }
    };
    Ok((key, host))
}

/// Runs `ssh` into the instance with its key pair's private key, as `ec2-user`.
pub fn ssh(ctx: &Ctx, a: SshArgs) -> Result<Value, Failure> {
    let s = ctx.tidy_store()?;
    let (key, host) = target(s.conn(), &a)?;
    drop(s);
    // exec replaces this process with ssh, so the terminal, signals and the exit code all
    // belong to ssh; it returns only if ssh could not be started.
    let err = std::process::Command::new("ssh")
        .args(ssh_args(&key, &a.login_name, &host, &a.command))
        .exec();
    Err(Ec2Error::internal(format!(
        "Cannot run ssh: {err}. Install OpenSSH's client (apt-get install openssh-client)"
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keypairs::{self, KeyFormat, KeyType};
    use crate::net::vpc::{self, Subnet};
    use crate::store::Store;

    fn instance(id: &str, state: State, key_name: Option<&str>) -> Instance {
        Instance {
            instance_id: id.into(),
            reservation_id: "r-0123456789abcdef0".into(),
            launch_index: 0,
            image_id: "ami-0123456789abcdef0".into(),
            instance_type: "t2.micro".into(),
            state,
            transition_reason: String::new(),
            state_reason: None,
            launch_time: "2026-11-28T00:00:00.000Z".into(),
            ended_at: None,
            key_name: key_name.map(String::from),
            public_key: None,
            user_data: None,
            vcpus: 1,
            mem_mib: 1024,
            warnings: vec![],
            tags: vec![],
            security_groups: vec![],
            subnet_id: None,
            root_device_name: "/dev/xvda".into(),
            root_delete_on_termination: true,
            reboot_pending: Default::default(),
            force_stop: false,
            vmm_pid: None,
            vmm_start_ticks: None,
            boots: 0,
            last_boot_ms: None,
            monitoring: Default::default(),
            metadata_options: Default::default(),
            maintenance: Default::default(),
            hibernation: Default::default(),
        }
    }

    fn args(id: &str, key: Option<&str>) -> SshArgs {
        SshArgs {
            instance_id: id.into(),
            identity_file: key.map(PathBuf::from),
            login_name: "ec2-user".into(),
            command: vec![],
        }
    }

    /// The store records only: no VMM and no host networking are involved.
    #[test]
    fn target_is_the_public_address_and_the_key_pairs_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), "lab-1").unwrap();
        vpc::ensure_default(&mut s).unwrap();
        let key_file = dir.path().join("web.pem");
        let (ids, public, private) = s
            .write(|tx| -> Result<_, Ec2Error> {
                keypairs::create(tx, "web", KeyType::Ed25519, KeyFormat::Pem, Some(&key_file))?;
                keypairs::import(
                    tx,
                    "laptop",
                    keypairs::create(tx, "tmp", KeyType::Ed25519, KeyFormat::Pem, None)?
                        .0
                        .public_key
                        .as_bytes(),
                    &[],
                )?;
                let subnet = Subnet::default(tx)?;
                let mut out = vec![];
                let mut ips = vec![];
                for (n, (state, key, public)) in [
                    (State::Running, Some("web"), true),
                    (State::Running, Some("web"), false),
                    (State::Stopped, Some("web"), true),
                    (State::Running, Some("laptop"), true),
                    (State::Running, None, true),
                ]
                .into_iter()
                .enumerate()
                {
                    let id = format!("i-0000000000000000{n}");
                    instance(&id, state, key).insert(tx)?;
                    let eni = crate::net::eni::create(
                        tx,
                        &subnet,
                        &crate::net::eni::NewEni {
                            public,
                            instance_id: Some(&id),
                            ..Default::default()
                        },
                    )?;
                    ips.push((eni.public_ip, eni.private_ip));
                    out.push(id);
                }
                Ok((out, ips[0].0.unwrap(), ips[1].1))
            })
            .unwrap();
        let c = s.conn();
        let canon = key_file.canonicalize().unwrap();
        assert_eq!(
            target(c, &args(&ids[0], None)).unwrap(),
            (canon.clone(), public.to_string())
        );
        // No public address: the private one.
        assert_eq!(
            target(c, &args(&ids[1], None)).unwrap(),
            (canon, private.to_string())
        );
        // -i wins over the pair's file.
        assert_eq!(
            target(c, &args(&ids[0], Some("/k/other"))).unwrap().0,
            PathBuf::from("/k/other")
        );
        let e = target(c, &args(&ids[2], None)).unwrap_err();
        assert_eq!(e.code, "IncorrectInstanceState");
        assert!(e.message.contains("stopped"), "{}", e.message);
        // An imported pair, or no pair: ec2lab has no private key, so -i is needed.
        for id in [&ids[3], &ids[4]] {
            let e = target(c, &args(id, None)).unwrap_err();
            assert!(e.message.contains("-i KEY_FILE"), "{}", e.message);
            assert!(target(c, &args(id, Some("/k/mine"))).is_ok());
        }
        // The pair's file removed by the user: said so.
        std::fs::remove_file(&key_file).unwrap();
        let e = target(c, &args(&ids[0], None)).unwrap_err();
        assert!(e.message.contains("is gone"), "{}", e.message);
        assert_eq!(
            target(c, &args("i-0123456789abcdef0", None))
                .unwrap_err()
                .code,
            "InvalidInstanceID.NotFound"
        );
    }

    #[test]
    fn ssh_gets_the_key_the_options_and_the_command_after_the_destination() {
        let args = ssh_args(
            Path::new("/k/web.pem"),
            "ec2-user",
            "198.18.0.5",
            &["ls".into(), "-l".into()],
        );
        let args: Vec<&str> = args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args,
            [
                "-i",
                "/k/web.pem",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                "-o",
                "ConnectTimeout=10",
                "--",
                "ec2-user@198.18.0.5",
                "ls",
                "-l"
            ]
        );
        let shell = ssh_args(Path::new("k"), "root", "10.0.0.4", &[]);
        assert_eq!(shell.last().unwrap(), "root@10.0.0.4");
    }
}
