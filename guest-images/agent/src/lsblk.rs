//! `lsblk`, as the agent's applet (busybox has none): the block devices from /sys/block
//! with util-linux's default columns, `NAME MAJ:MIN RM SIZE RO TYPE MOUNTPOINTS`, mount
//! points from /proc/self/mountinfo. Options: `-b` (sizes in bytes), `-d` (no
//! partitions), `-n` (no heading), `-p` (full paths).

use std::fs;
use std::path::Path;

/// util-linux's human size: the largest unit with a value of at least 1, one decimal
/// unless it is whole ("8G", "61.7M", "512B").
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "K", "M", "G", "T", "P"];
    let mut unit = 0;
    let mut v = bytes as f64;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes}B");
    }
    let rounded = (v * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{}{}", rounded as u64, UNITS[unit])
    } else {
        format!("{rounded:.1}{}", UNITS[unit])
    }
}

struct Dev {
    name: String,
    majmin: String,
    removable: String,
    size: u64,
    ro: String,
    kind: &'static str,
    mounts: Vec<String>,
    children: Vec<Dev>,
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default().trim().to_string()
}

/// Mount points by `major:minor`, in mount order.
fn mounts() -> Vec<(String, String)> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            Some((f.get(2)?.to_string(), f.get(4)?.replace("\\040", " ")))
        })
        .collect()
}

fn dev(sys: &Path, name: &str, kind: &'static str, mounts: &[(String, String)]) -> Dev {
    let majmin = read(&sys.join("dev"));
    Dev {
        name: name.to_string(),
        removable: if kind == "part" {
            "0".into()
        } else {
            read(&sys.join("removable"))
        },
        size: read(&sys.join("size")).parse::<u64>().unwrap_or(0) * 512,
        ro: read(&sys.join("ro")),
        kind,
        mounts: mounts
            .iter()
            .filter(|(m, _)| *m == majmin)
            .map(|(_, p)| p.clone())
            .collect(),
        majmin,
        children: Vec::new(),
    }
}

/// The applet's main: the exit code.
pub fn main(args: &[String]) -> i32 {
    let (mut bytes, mut nodeps, mut noheadings, mut paths) = (false, false, false, false);
    for a in args {
        match a.as_str() {
            "-b" | "--bytes" => bytes = true,
            "-d" | "--nodeps" => nodeps = true,
            "-n" | "--noheadings" => noheadings = true,
            "-p" | "--paths" => paths = true,
            "-h" | "--help" => {
                println!("Usage: lsblk [-b] [-d] [-n] [-p]\nList the block devices (ec2lab Linux's lsblk, the agent's applet).");
                return 0;
            }
            s if s.starts_with('-') && s.len() > 2 && !s.starts_with("--") => {
                for c in s[1..].chars() {
                    match c {
                        'b' => bytes = true,
                        'd' => nodeps = true,
                        'n' => noheadings = true,
                        'p' => paths = true,
                        _ => {
                            eprintln!("lsblk: invalid option -- '{c}'");
                            return 1;
                        }
                    }
                }
            }
            _ => {
                eprintln!("lsblk: unsupported argument '{a}' (this lsblk knows -b -d -n -p)");
                return 1;
            }
        }
    }
    let m = mounts();
    // By name: vda, vdb, ... (sysfs lists them in no useful order).
    let mut names: Vec<String> = fs::read_dir("/sys/block")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut devs = Vec::new();
    for n in names {
        let sys = Path::new("/sys/block").join(&n);
        // As util-linux's lsblk: RAM disks (major 1) and unused loop devices are left out.
        let mut d = dev(&sys, &n, "disk", &m);
        // The VMM's empty virtio-blk slots (vdb.. with no volume attached, size 0) are left
        // out too: on EC2 a device appears only when a volume is attached.
        let empty_slot = d.size == 0 && n.starts_with("vd");
        if d.majmin.starts_with("1:") || (n.starts_with("loop") && d.size == 0) || empty_slot {
            continue;
        }
        if n.starts_with("loop") {
            d.kind = "loop";
        }
        if !nodeps {
            let mut parts: Vec<String> = fs::read_dir(&sys)
                .map(|r| {
                    r.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|p| p.starts_with(&n) && sys.join(p).join("partition").exists())
                        .collect()
                })
                .unwrap_or_default();
            parts.sort();
            d.children = parts
                .iter()
                .map(|p| dev(&sys.join(p), p, "part", &m))
                .collect();
        }
        devs.push(d);
    }
    let mut rows: Vec<[String; 7]> = Vec::new();
    if !noheadings {
        rows.push(["NAME", "MAJ:MIN", "RM", "SIZE", "RO", "TYPE", "MOUNTPOINTS"].map(String::from));
    }
    let size = |b: u64| if bytes { b.to_string() } else { human(b) };
    let name = |n: &str| {
        if paths {
            format!("/dev/{n}")
        } else {
            n.to_string()
        }
    };
    for d in &devs {
        rows.push([
            name(&d.name),
            d.majmin.clone(),
            d.removable.clone(),
            size(d.size),
            d.ro.clone(),
            d.kind.into(),
            d.mounts.join("\n"),
        ]);
        for (i, c) in d.children.iter().enumerate() {
            let branch = if i + 1 == d.children.len() {
                "└─"
            } else {
                "├─"
            };
            rows.push([
                format!("{branch}{}", name(&c.name)),
                c.majmin.clone(),
                c.removable.clone(),
                size(c.size),
                c.ro.clone(),
                c.kind.into(),
                c.mounts.join("\n"),
            ]);
        }
    }
    // Column widths in characters; RM, SIZE and RO are right-aligned as lsblk's.
    let mut w = [0usize; 7];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.lines().next().unwrap_or("").chars().count());
        }
    }
    for r in &rows {
        let mut first = true;
        let mut extra_mounts = Vec::new();
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            let mut lines = c.lines();
            let c0 = lines.next().unwrap_or("");
            if i == 6 {
                extra_mounts.extend(lines.map(str::to_string));
            }
            if !first {
                line.push(' ');
            }
            first = false;
            let pad = w[i].saturating_sub(c0.chars().count());
            if (2..=4).contains(&i) {
                line.push_str(&" ".repeat(pad));
                line.push_str(c0);
            } else if i == 6 {
                line.push_str(c0);
            } else {
                line.push_str(c0);
                line.push_str(&" ".repeat(pad));
            }
        }
        println!("{}", line.trim_end());
        let indent: usize = w[..6].iter().sum::<usize>() + 6;
        for m in extra_mounts {
            println!("{}{m}", " ".repeat(indent));
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn sizes_as_util_linux_prints_them() {
        assert_eq!(human(8 << 30), "8G");
        assert_eq!(human(64 << 20), "64M");
        assert_eq!(human(1536 << 20), "1.5G");
        assert_eq!(human(512), "512B");
        assert_eq!(human(75_000_000_000), "69.8G");
    }
}
