//! What the metadata service tells one instance: the `meta-data/` tree, `user-data` and
//! `dynamic/instance-identity/document`, in the paths and formats of EC2's IMDS (those
//! cloud-init's EC2 datasource reads). Built from the same typed `Instance` that
//! `describe-instances` prints, so the two never disagree.

use std::collections::BTreeMap;

use serde_json::json;

use super::http::Response;
use crate::ec2::shapes::instances::Instance;
use crate::ids::OWNER_ID;

/// The API versions the service answers to (any dated version gets the same tree, as
/// cloud-init asks for `2009-04-04` and `2016-09-02` among others).
pub const VERSIONS: &[&str] = &[
    "1.0",
    "2007-01-19",
    "2009-04-04",
    "2011-01-01",
    "2016-09-02",
    "2018-09-24",
    "2021-07-15",
    "latest",
];

/// Everything one instance may read.
pub struct InstanceData {
    /// Leaf path under `meta-data/` → value.
    meta: BTreeMap<String, String>,
    /// `public-keys/`: (key name, OpenSSH public key).
    keys: Vec<(String, String)>,
    user_data: Option<Vec<u8>>,
    identity: String,
}

/// Inputs besides the instance's description.
pub struct Extra<'a> {
    /// The region the instance runs in.
    pub region: &'a str,
    /// The instance's reservation.
    pub reservation_id: &'a str,
    /// The key pair's name and OpenSSH public key, as copied at launch.
    pub key: Option<(String, String)>,
    /// The user data, decoded.
    pub user_data: Option<Vec<u8>>,
    /// CIDR of a subnet or VPC id.
    pub cidr_of: &'a dyn Fn(&str) -> Option<String>,
}

impl InstanceData {
    /// A spot instance's leaves: `instance-life-cycle`, and once it is to be interrupted
    /// `spot/instance-action`, `spot/termination-time` and
    /// `events/recommendations/rebalance`, as EC2's metadata service shows them.
    pub fn with_spot(mut self, n: crate::instances::spot::Notice) -> InstanceData {
        if let Some(l) = n.life_cycle {
            self.meta.insert("instance-life-cycle".into(), l.into());
        }
        for (k, v) in [
            ("spot/instance-action", n.instance_action),
            ("spot/termination-time", n.termination_time),
            ("events/recommendations/rebalance", n.rebalance),
        ] {
            if let Some(v) = v {
                self.meta.insert(k.into(), v);
            }
        }
        self
    }

    /// From the instance as `DescribeInstances` shows it.
    pub fn new(d: &Instance, x: Extra) -> InstanceData {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            if !v.is_empty() {
                m.insert(k.to_string(), v);
            }
        };
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        put("ami-id", d.image_id.clone());
        put("ami-launch-index", d.ami_launch_index.to_string());
        put("ami-manifest-path", "(unknown)".into());
        let root = &d.root_device_name;
        put("block-device-mapping/ami", root.clone());
        put("block-device-mapping/root", root.clone());
        let mut ebs = 0;
        for b in &d.block_device_mappings {
            if &b.device_name != root {
                ebs += 1;
                put(
                    &format!("block-device-mapping/ebs{ebs}"),
                    b.device_name.trim_start_matches("/dev/").into(),
                );
            }
        }
        put("hostname", opt(&d.private_dns_name));
        put("local-hostname", opt(&d.private_dns_name));
        put("instance-action", "none".into());
        put("instance-id", d.instance_id.clone());
        put("instance-life-cycle", "on-demand".into());
        put("instance-type", d.instance_type.clone());
        put("local-ipv4", opt(&d.private_ip_address));
        put(
            "placement/availability-zone",
            d.placement.availability_zone.clone(),
        );
        put(
            "placement/availability-zone-id",
            format!("{}-az1", x.region),
        );
        put("placement/region", x.region.into());
        put("profile", "default-hvm".into());
        put("public-hostname", opt(&d.public_dns_name));
        put("public-ipv4", opt(&d.public_ip_address));
        put("reservation-id", x.reservation_id.into());
        let names: Vec<String> = d
            .security_groups
            .iter()
            .map(|g| opt(&g.group_name))
            .collect();
        put("security-groups", names.join("\n"));
        put("services/domain", "amazonaws.com".into());
        put("services/partition", "aws".into());
        for (i, n) in d.network_interfaces.iter().enumerate() {
            let mac = &n.mac_address;
            if i == 0 {
                put("mac", mac.clone());
            }
            let p = format!("network/interfaces/macs/{mac}");
            let device = n
                .attachment
                .as_ref()
                .and_then(|a| a.device_index)
                .unwrap_or(i as i64);
            put(&format!("{p}/device-number"), device.to_string());
            put(&format!("{p}/interface-id"), n.network_interface_id.clone());
            put(&format!("{p}/local-ipv4s"), n.private_ip_address.clone());
            put(&format!("{p}/mac"), mac.clone());
            put(&format!("{p}/owner-id"), OWNER_ID.into());
            put(
                &format!("{p}/public-ipv4s"),
                n.association
                    .as_ref()
                    .map(|a| a.public_ip.clone())
                    .unwrap_or_default(),
            );
            let ids: Vec<&str> = n.groups.iter().map(|g| g.group_id.as_str()).collect();
            put(&format!("{p}/security-group-ids"), ids.join("\n"));
            put(&format!("{p}/subnet-id"), n.subnet_id.clone());
            put(&format!("{p}/vpc-id"), n.vpc_id.clone());
            if let Some(c) = (x.cidr_of)(&n.subnet_id) {
                put(&format!("{p}/subnet-ipv4-cidr-block"), c);
            }
            if let Some(c) = (x.cidr_of)(&n.vpc_id) {
                put(&format!("{p}/vpc-ipv4-cidr-block"), c.clone());
                put(&format!("{p}/vpc-ipv4-cidr-blocks"), c);
            }
        }
        let identity = json!({
            "accountId": OWNER_ID,
            "architecture": d.architecture,
            "availabilityZone": d.placement.availability_zone,
            "billingProducts": null,
            "devpayProductCodes": null,
            "marketplaceProductCodes": null,
            "imageId": d.image_id,
            "instanceId": d.instance_id,
            "instanceType": d.instance_type,
            "kernelId": null,
            "pendingTime": d.launch_time,
            "privateIp": d.private_ip_address,
            "ramdiskId": null,
            "region": x.region,
            "version": "2017-09-30",
        });
        InstanceData {
            meta: m,
            keys: x.key.into_iter().collect(),
            user_data: x.user_data,
            identity: serde_json::to_string_pretty(&identity).unwrap_or_default(),
        }
    }

    /// The answer to a GET of `path` (the part after the version, e.g. `meta-data/mac`).
    pub fn get(&self, path: &str) -> Response {
        let path = path.trim_start_matches('/');
        let dir = path.trim_end_matches('/');
        match dir {
            "" => {
                let mut top = vec!["dynamic", "meta-data"];
                if self.user_data.is_some() {
                    top.push("user-data");
                }
                return Response::ok(top.join("\n"));
            }
            "user-data" => {
                return match &self.user_data {
                    Some(u) => Response::ok(u.clone()),
                    None => Response::error(404),
                }
            }
            "dynamic" => return Response::ok("instance-identity/"),
            "dynamic/instance-identity" => return Response::ok("document"),
            "dynamic/instance-identity/document" => return Response::ok(self.identity.clone()),
            _ => {}
        }
        let Some(rest) = dir
            .strip_prefix("meta-data")
            .filter(|r| r.is_empty() || r.starts_with('/'))
        else {
            return Response::error(404);
        };
        let rest = rest.trim_start_matches('/');
        self.meta_data(rest)
    }

    fn meta_data(&self, p: &str) -> Response {
        // public-keys/ lists "0=name" entries, each a directory holding openssh-key.
        if p == "public-keys" {
            if self.keys.is_empty() {
                return Response::error(404);
            }
            let list: Vec<String> = self
                .keys
                .iter()
                .enumerate()
                .map(|(i, (name, _))| format!("{i}={name}"))
                .collect();
            return Response::ok(list.join("\n"));
        }
        if let Some(k) = p.strip_prefix("public-keys/") {
            let (idx, leaf) = k.split_once('/').unwrap_or((k, ""));
            let key = idx
                .split('=')
                .next()
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| self.keys.get(i));
            return match (key, leaf) {
                (Some(_), "") => Response::ok("openssh-key"),
                (Some((_, pubkey)), "openssh-key") => Response::ok(format!("{}\n", pubkey.trim())),
                _ => Response::error(404),
            };
        }
        if let Some(v) = self.meta.get(p) {
            return Response::ok(v.clone());
        }
        // A directory: its children, subdirectories with a trailing slash.
        let prefix = if p.is_empty() {
            String::new()
        } else {
            format!("{p}/")
        };
        let mut children: Vec<String> = Vec::new();
        for k in self.meta.keys() {
            if let Some(rest) = k.strip_prefix(&prefix) {
                let child = match rest.split_once('/') {
                    Some((d, _)) => format!("{d}/"),
                    None => rest.to_string(),
                };
                if children.last() != Some(&child) {
                    children.push(child);
                }
            }
        }
        if p.is_empty() && !self.keys.is_empty() {
            children.push("public-keys/".into());
            children.sort();
        }
        if children.is_empty() {
            return Response::error(404);
        }
        Response::ok(children.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn sample(key: bool, user_data: Option<&[u8]>) -> InstanceData {
        // The members the tree reads, as describe-instances prints them.
        let d: Instance = serde_json::from_value(json!({
            "ImageId": "ami-1", "AmiLaunchIndex": 0, "InstanceId": "i-1", "InstanceType": "t2.micro",
            "RootDeviceName": "/dev/xvda", "Architecture": "x86_64", "LaunchTime": "2026-11-28T00:00:00.000Z",
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda"}, {"DeviceName": "/dev/sdf"}],
            "PrivateDnsName": "ip-172-31-0-4.lab-1.compute.internal", "PrivateIpAddress": "172.31.0.4",
            "PublicIpAddress": "198.18.0.4", "Placement": {"AvailabilityZone": "lab-1a"},
            "SecurityGroups": [{"GroupId": "sg-1", "GroupName": "web"}],
            "NetworkInterfaces": [{"MacAddress": "02:00:00:00:00:01", "NetworkInterfaceId": "eni-1",
              "PrivateIpAddress": "172.31.0.4", "SubnetId": "subnet-1", "VpcId": "vpc-1",
              "Groups": [{"GroupId": "sg-1"}], "Association": {"PublicIp": "198.18.0.4"}}],
        }))
        .unwrap();
        let cidr = |id: &str| {
            Some(
                if id.starts_with("vpc") {
                    "172.31.0.0/16"
                } else {
                    "172.31.0.0/20"
                }
                .to_string(),
            )
        };
        InstanceData::new(
            &d,
            Extra {
                region: "lab-1",
                reservation_id: "r-1",
                key: key.then(|| ("lab".to_string(), "ssh-ed25519 AAAA lab".to_string())),
                user_data: user_data.map(<[u8]>::to_vec),
                cidr_of: &cidr,
            },
        )
    }

    fn body(r: Response) -> (u16, String) {
        (r.status, String::from_utf8(r.body).unwrap())
    }

    #[test]
    fn leaves_and_listings() {
        let t = sample(true, Some(b"#!/bin/sh\necho hi\n"));
        assert_eq!(body(t.get("meta-data/instance-id")), (200, "i-1".into()));
        assert_eq!(
            body(t.get("/meta-data/local-ipv4")),
            (200, "172.31.0.4".into())
        );
        assert_eq!(
            body(t.get("meta-data/placement/availability-zone")),
            (200, "lab-1a".into())
        );
        let (code, top) = body(t.get("meta-data/"));
        assert_eq!(code, 200);
        for want in [
            "ami-id",
            "block-device-mapping/",
            "instance-id",
            "network/",
            "placement/",
            "public-keys/",
        ] {
            assert!(top.lines().any(|l| l == want), "{want} in {top}");
        }
        assert_eq!(body(t.get("meta-data")).1, top, "with or without the slash");
        assert_eq!(
            body(t.get("meta-data/block-device-mapping/")).1,
            "ami\nebs1\nroot"
        );
        assert_eq!(body(t.get("meta-data/block-device-mapping/ebs1")).1, "sdf");
        assert_eq!(
            body(t.get("meta-data/network/interfaces/macs/02:00:00:00:00:01/vpc-ipv4-cidr-block"))
                .1,
            "172.31.0.0/16"
        );
        assert_eq!(body(t.get("meta-data/nothing")).0, 404);
        assert_eq!(body(t.get("")).1, "dynamic\nmeta-data\nuser-data");
        assert_eq!(body(t.get("user-data")).1, "#!/bin/sh\necho hi\n");
        let doc: Value =
            serde_json::from_str(&body(t.get("dynamic/instance-identity/document")).1).unwrap();
        assert_eq!(doc["instanceId"], "i-1");
        assert_eq!(doc["region"], "lab-1");
    }

    #[test]
    fn public_keys_as_ec2_lists_them() {
        let t = sample(true, None);
        assert_eq!(body(t.get("meta-data/public-keys/")).1, "0=lab");
        assert_eq!(body(t.get("meta-data/public-keys/0/")).1, "openssh-key");
        assert_eq!(
            body(t.get("meta-data/public-keys/0/openssh-key")).1,
            "ssh-ed25519 AAAA lab\n"
        );
        assert_eq!(body(t.get("meta-data/public-keys/1/openssh-key")).0, 404);
        let none = sample(false, None);
        assert_eq!(body(none.get("meta-data/public-keys/")).0, 404);
        assert_eq!(body(none.get("user-data")).0, 404);
        assert_eq!(body(none.get("")).1, "dynamic\nmeta-data");
    }
}
