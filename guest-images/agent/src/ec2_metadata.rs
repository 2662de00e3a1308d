//! `ec2-metadata`, Amazon Linux's helper from amazon-ec2-utils, as the agent's applet
//! (through the `/usr/bin/ec2-metadata` symlink): the same options and the same output,
//! `name: value` per item (`--quiet`: the value only), `name: not available` for what the
//! metadata service does not have. It speaks IMDSv2 (a session token first), as the
//! helper does since amazon-ec2-utils 1.3.

use std::time::{Duration, Instant};

use crate::imds::{Imds, Transport};

const USAGE: &str = "ec2-metadata (ec2lab Linux)
Use to retrieve EC2 instance metadata from within a running EC2 instance.
e.g. to retrieve instance id: ec2-metadata -i
         to retrieve ami id: ec2-metadata -a
         to get help: ec2-metadata --help

Usage: ec2-metadata <option>
Options:
--all                     Show all metadata information for this host (also default).
-a/--ami-id               The AMI ID used to launch this instance
-l/--ami-launch-index     The index of this instance in the reservation (per AMI).
-m/--ami-manifest-path    The manifest path of the AMI with which the instance was launched.
-n/--ancestor-ami-ids     The AMI IDs of any instances that were rebundled to create this AMI.
-b/--block-device-mapping Defines native device names to use when exposing virtual devices.
-i/--instance-id          The ID of this instance
-t/--instance-type        The type of instance to launch.
-h/--local-hostname       The local hostname of the instance.
-o/--local-ipv4           Public IP address if launched with direct addressing; private IP address if launched with public addressing.
-k/--kernel-id            The ID of the kernel launched with this instance, if applicable.
-z/--availability-zone    The availability zone in which the instance launched. Same as placement
-R/--region               The region in which the instance launched.
-P/--partition            The AWS partition in which the instance launched.
-c/--product-codes        Product codes associated with this instance.
-p/--public-hostname      The public hostname of the instance.
-v/--public-ipv4          NATted public IP Address
-u/--public-keys          Public keys. Only available if supplied at instance launch time
-r/--ramdisk-id           The ID of the RAM disk launched with this instance, if applicable.
-e/--reservation-id       ID of the reservation.
-s/--security-groups      Names of the security groups the instance is launched in. Only available if supplied at instance launch time
-d/--user-data            User-supplied data.Only available if supplied at instance launch time.
-g/--tags                 Tags assigned to this instance.
--quiet                   Suppress tag keys from the output.
--path                    Show metadata information from the specified path. Can be specified multiple times.";

/// One item: its short and long option, the name printed, and its metadata path.
struct Item {
    short: char,
    long: &'static str,
    name: &'static str,
    path: &'static str,
}

const fn item(short: char, long: &'static str, name: &'static str, path: &'static str) -> Item {
    Item {
        short,
        long,
        name,
        path,
    }
}

/// In `--all` order, as the helper prints them.
const ITEMS: &[Item] = &[
    item('a', "ami-id", "ami-id", "meta-data/ami-id"),
    item(
        'l',
        "ami-launch-index",
        "ami-launch-index",
        "meta-data/ami-launch-index",
    ),
    item(
        'm',
        "ami-manifest-path",
        "ami-manifest-path",
        "meta-data/ami-manifest-path",
    ),
    item(
        'n',
        "ancestor-ami-ids",
        "ancestor-ami-ids",
        "meta-data/ancestor-ami-ids",
    ),
    item(
        'b',
        "block-device-mapping",
        "block-device-mapping",
        "meta-data/block-device-mapping/",
    ),
    item('i', "instance-id", "instance-id", "meta-data/instance-id"),
    item(
        't',
        "instance-type",
        "instance-type",
        "meta-data/instance-type",
    ),
    item(
        'h',
        "local-hostname",
        "local-hostname",
        "meta-data/local-hostname",
    ),
    item('o', "local-ipv4", "local-ipv4", "meta-data/local-ipv4"),
    item('k', "kernel-id", "kernel-id", "meta-data/kernel-id"),
    item(
        'z',
        "availability-zone",
        "placement",
        "meta-data/placement/availability-zone",
    ),
    item('R', "region", "region", "meta-data/placement/region"),
    item(
        'P',
        "partition",
        "partition",
        "meta-data/services/partition",
    ),
    item(
        'c',
        "product-codes",
        "product-codes",
        "meta-data/product-codes",
    ),
    item(
        'p',
        "public-hostname",
        "public-hostname",
        "meta-data/public-hostname",
    ),
    item('v', "public-ipv4", "public-ipv4", "meta-data/public-ipv4"),
    item('u', "public-keys", "public-keys", "meta-data/public-keys/"),
    item('r', "ramdisk-id", "ramdisk-id", "meta-data/ramdisk-id"),
    item(
        'e',
        "reservation-id",
        "reservation-id",
        "meta-data/reservation-id",
    ),
    item(
        's',
        "security-groups",
        "security-groups",
        "meta-data/security-groups",
    ),
    item('d', "user-data", "user-data", "user-data"),
    item('g', "tags", "tags", "meta-data/tags/instance/"),
];

/// What to print: an item, or a raw path (`--path`).
enum Want {
    Item(&'static Item),
    Path(String),
}

fn parse(args: &[String]) -> Result<(Vec<Want>, bool), String> {
    let mut want = Vec::new();
    let mut quiet = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        } else if a == "--quiet" {
            quiet = true;
        } else if a == "--all" {
            want.extend(ITEMS.iter().map(Want::Item));
        } else if a == "--path" || a.starts_with("--path=") {
            let p = match a.strip_prefix("--path=") {
                Some(p) => p.to_string(),
                None => {
                    i += 1;
                    args.get(i).cloned().ok_or("--path needs a metadata path")?
                }
            };
            want.push(Want::Path(p));
        } else if let Some(long) = a.strip_prefix("--") {
            let it = ITEMS
                .iter()
                .find(|it| it.long == long)
                .ok_or_else(|| format!("unrecognized option '{a}'"))?;
            want.push(Want::Item(it));
        } else if let Some(shorts) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            for c in shorts.chars() {
                let it = ITEMS
                    .iter()
                    .find(|it| it.short == c)
                    .ok_or_else(|| format!("invalid option -- '{c}'"))?;
                want.push(Want::Item(it));
            }
        } else {
            return Err(format!("unexpected argument '{a}'"));
        }
        i += 1;
    }
    if want.is_empty() {
        want.extend(ITEMS.iter().map(Want::Item));
    }
    Ok((want, quiet))
}

/// The lines for one item, from `get` (a metadata path relative to /latest/: its body,
/// None when the service has no such item).
fn render(
    w: &Want,
    quiet: bool,
    get: &mut dyn FnMut(&str) -> Result<Option<String>, String>,
) -> Result<String, String> {
    let (name, path) = match w {
        Want::Item(it) => (it.name, it.path.to_string()),
        Want::Path(p) => ("", format!("meta-data/{}", p.trim_start_matches('/'))),
    };
    let prefix = |name: &str| {
        if quiet || name.is_empty() {
            String::new()
        } else {
            format!("{name}: ")
        }
    };
    let Some(value) = get(&path)? else {
        return Ok(format!("{}not available\n", prefix(name)));
    };
    let value = value.trim_end_matches('\n');
    match name {
        // A directory: one "key: value" line per entry, under a heading line.
        "block-device-mapping" | "tags" => {
            let mut out = if quiet {
                String::new()
            } else {
                format!("{name}: \n")
            };
            for key in value.lines().filter(|k| !k.is_empty()) {
                let v = get(&format!("{path}{key}"))?.unwrap_or_default();
                out.push_str(&format!("\t {key}: {}\n", v.trim_end()));
            }
            Ok(out)
        }
        "public-keys" => {
            let mut out = if quiet {
                String::new()
            } else {
                format!("{name}: \n")
            };
            for entry in value.lines().filter(|k| !k.is_empty()) {
                let (index, keyname) = entry.split_once('=').unwrap_or((entry, ""));
                let key = get(&format!("{path}{index}/openssh-key"))?.unwrap_or_default();
                out.push_str(&format!(
                    "keyname:{keyname}\nindex:{index}\nformat:openssh-key\nkey:(begins from next line)\n{}\n",
                    key.trim_end()
                ));
            }
            Ok(out)
        }
        _ => Ok(format!("{}{value}\n", prefix(name))),
    }
}

/// The metadata service over TCP, as the agent reaches it.
struct Tcp(std::net::SocketAddr);

impl Transport for Tcp {
    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<crate::http::Response, String> {
        crate::http::request(
            self.0,
            method,
            path,
            headers,
            Duration::from_secs(2),
            Duration::from_secs(5),
        )
    }
}

/// The helper's main: the exit code.
pub fn main(args: &[String], imds: std::net::SocketAddr) -> i32 {
    let (want, quiet) = match parse(args) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("ec2-metadata: {e}\nTry 'ec2-metadata --help'");
            return 1;
        }
    };
    let mut log = |line: &str| {
        if line.starts_with("error:") {
            eprintln!("ec2-metadata: {line}");
        }
    };
    // A few tries only: an interactive command, not a boot.
    let mut client = Imds::new(
        Tcp(imds),
        Instant::now() + Duration::from_secs(5),
        Duration::from_secs(1),
        &mut log,
    );
    let mut get = |path: &str| -> Result<Option<String>, String> {
        Ok(client
            .get(&format!("/latest/{path}"))?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    };
    let mut out = String::new();
    for w in &want {
        match render(w, quiet, &mut get) {
            Ok(s) => out.push_str(&s),
            Err(e) => {
                print!("{out}");
                eprintln!("ec2-metadata: {e}");
                return 1;
            }
        }
    }
    print!("{out}");
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn fake(path: &str) -> Result<Option<String>, String> {
        Ok(match path {
            "meta-data/instance-id" => Some("i-0123456789abcdef0".into()),
            "meta-data/placement/availability-zone" => Some("lab-1a".into()),
            "meta-data/public-keys/" => Some("0=lab".into()),
            "meta-data/public-keys/0/openssh-key" => Some("ssh-ed25519 AAAA lab\n".into()),
            "meta-data/block-device-mapping/" => Some("ami\nroot".into()),
            "meta-data/block-device-mapping/ami" => Some("xvda".into()),
            "meta-data/block-device-mapping/root" => Some("/dev/xvda".into()),
            _ => None,
        })
    }

    fn run(a: &[&str]) -> String {
        let (want, quiet) = parse(&args(a)).unwrap();
        want.iter()
            .map(|w| render(w, quiet, &mut fake).unwrap())
            .collect()
    }

    #[test]
    fn options_and_output_as_amazon_linux() {
        assert_eq!(run(&["-i"]), "instance-id: i-0123456789abcdef0\n");
        assert_eq!(run(&["--instance-id", "--quiet"]), "i-0123456789abcdef0\n");
        assert_eq!(
            run(&["-iz"]),
            "instance-id: i-0123456789abcdef0\nplacement: lab-1a\n"
        );
        assert_eq!(run(&["-v"]), "public-ipv4: not available\n");
        assert_eq!(run(&["--path", "instance-id"]), "i-0123456789abcdef0\n");
        assert_eq!(
            run(&["-b"]),
            "block-device-mapping: \n\t ami: xvda\n\t root: /dev/xvda\n"
        );
        assert!(run(&["-u"]).contains("keyname:lab\nindex:0\n"));
        let all = run(&[]);
        assert_eq!(all, run(&["--all"]));
        assert_eq!(
            all.lines()
                .filter(|l| l.starts_with("instance-id: "))
                .count(),
            1
        );
        assert!(parse(&args(&["-x"])).is_err());
        assert!(parse(&args(&["--bogus"])).is_err());
    }
}
