//! Each test lab's default VPC: ec2lab refuses to run instances in a VPC that overlaps
//! one with running instances of another state directory, and labs run at the same time.

use super::{locked_file, run_with_timeout, stderr, Lab};

/// A default VPC of its own for each lab: 10.130.0.0/16 to 10.209.0.0/16 in turn, counted
/// host-wide in /run under a lock. Labs run at the same time, and ec2lab refuses to run
/// instances in a VPC that overlaps one with running instances of another state directory.
pub fn next_default_vpc() -> String {
    use std::io::{Read, Seek, Write};
    let mut f = locked_file("/run/ec2lab-test-default-vpcs");
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    let n: u32 = s.trim().parse().unwrap_or(0);
    f.set_len(0).unwrap();
    f.rewind().unwrap();
    write!(f, "{}", n.wrapping_add(1)).unwrap();
    format!("10.{}.0.0/16", 130 + n % 80)
}

impl Lab {
    /// A lab whose default VPC is AWS's 172.31.0.0/16, as every user's is: for tests of
    /// that default that run no instance (labs' instances on it would clash).
    pub fn with_aws_default_vpc() -> Self {
        Lab {
            dir: tempfile::tempdir().unwrap(),
            default_vpc: String::new(),
        }
    }

    /// Gives `region` a default VPC of its own. Otherwise the lab's regions share one CIDR,
    /// as every user's share 172.31.0.0/16, and their instances cannot run at the same time.
    pub fn region_default_vpc(&self, region: &str) {
        let mut c = self.cmd(&["--region", region, "describe-vpcs"]);
        c.env("EC2LAB_DEFAULT_VPC_CIDR", next_default_vpc());
        let out = run_with_timeout(c, 60);
        assert!(out.status.success(), "{}", stderr(&out));
    }

    /// The first two octets of the default VPC's CIDR, e.g. `10.131`.
    pub fn vpc_prefix(&self) -> String {
        let cidr = if self.default_vpc.is_empty() {
            "172.31.0.0/16"
        } else {
            &self.default_vpc
        };
        cidr.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
    }
}
