//! Instance types, mirroring real AWS families: vCPUs, memory, and the instance store
//! that the `d` types carry.

use crate::ec2::shapes::instances as shapes;
use crate::error::Ec2Error;

/// The instance type of a `RunInstances` request that names none.
pub const DEFAULT_INSTANCE_TYPE: &str = "t2.micro";

/// One instance type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstanceType {
    /// Its name, such as `t2.micro`.
    pub name: &'static str,
    /// Its vCPUs.
    pub vcpus: u8,
    /// Its memory.
    pub mem_mib: u64,
    /// Instance-store (ephemeral NVMe SSD) size in GB; 0 for EBS-only types.
    pub instance_store_gb: u64,
    /// Burstable (T family) types earn CPU credits on AWS.
    pub burstable: bool,
}

const fn t(
    name: &'static str,
    vcpus: u8,
    mem_mib: u64,
    store: u64,
    burstable: bool,
) -> InstanceType {
    InstanceType {
        name,
        vcpus,
        mem_mib,
        instance_store_gb: store,
        burstable,
    }
}

/// The catalogue, as AWS publishes these sizes.
pub const TYPES: &[InstanceType] = &[
    t("t2.nano", 1, 512, 0, true),
    t("t2.micro", 1, 1024, 0, true),
    t("t2.small", 1, 2048, 0, true),
    t("t2.medium", 2, 4096, 0, true),
    t("t2.large", 2, 8192, 0, true),
    t("t2.xlarge", 4, 16384, 0, true),
    t("t2.2xlarge", 8, 32768, 0, true),
    t("t3.nano", 2, 512, 0, true),
    t("t3.micro", 2, 1024, 0, true),
    t("t3.small", 2, 2048, 0, true),
    t("t3.medium", 2, 4096, 0, true),
    t("t3.large", 2, 8192, 0, true),
    t("t3.xlarge", 4, 16384, 0, true),
    t("t3.2xlarge", 8, 32768, 0, true),
    t("m5.large", 2, 8192, 0, false),
    t("m5.xlarge", 4, 16384, 0, false),
    t("m5.2xlarge", 8, 32768, 0, false),
    t("c5.large", 2, 4096, 0, false),
    t("c5.xlarge", 4, 8192, 0, false),
    t("c5.2xlarge", 8, 16384, 0, false),
    t("r5.large", 2, 16384, 0, false),
    t("r5.xlarge", 4, 32768, 0, false),
    t("r5.2xlarge", 8, 65536, 0, false),
    t("m5d.large", 2, 8192, 75, false),
    t("m5d.xlarge", 4, 16384, 150, false),
    t("m5d.2xlarge", 8, 32768, 300, false),
    t("c5d.large", 2, 4096, 50, false),
    t("c5d.xlarge", 4, 8192, 100, false),
    t("c5d.2xlarge", 8, 16384, 200, false),
];

/// The type of this name, if ec2lab has it.
pub fn find(name: &str) -> Option<&'static InstanceType> {
    TYPES.iter().find(|t| t.name == name)
}

impl InstanceType {
    /// The type as `DescribeInstanceTypes` shows it.
    pub fn to_shape(&self) -> shapes::InstanceTypeInfo {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let gb = self.instance_store_gb;
        shapes::InstanceTypeInfo {
            instance_type: self.name.into(),
            current_generation: true,
            free_tier_eligible: matches!(self.name, "t2.micro" | "t3.micro"),
            supported_usage_classes: strings(&["on-demand", "spot"]),
            supported_root_device_types: strings(&["ebs"]),
            supported_virtualization_types: strings(&["hvm"]),
            bare_metal: false,
            hypervisor: "kvm".into(),
            processor_info: shapes::ProcessorInfo {
                supported_architectures: strings(&["x86_64"]),
            },
            v_cpu_info: shapes::VCpuInfo {
                default_v_cpus: self.vcpus,
                default_cores: self.vcpus,
                default_threads_per_core: 1,
            },
            memory_info: shapes::MemoryInfo {
                size_in_mib: self.mem_mib,
            },
            instance_storage_supported: gb > 0,
            instance_storage_info: (gb > 0).then(|| shapes::InstanceStorageInfo {
                total_size_in_gb: gb,
                disks: vec![shapes::DiskInfo {
                    size_in_gb: gb,
                    count: 1,
                    disk_type: "ssd".into(),
                }],
                nvme_support: "required".into(),
            }),
            ebs_info: shapes::EbsInfo {
                ebs_optimized_support: if self.burstable {
                    "unsupported"
                } else {
                    "default"
                }
                .into(),
            },
            burstable_performance_supported: self.burstable,
        }
    }
}

/// `DescribeInstanceTypes`: all types, or the ones named (each must exist).
pub fn describe_instance_types(
    req: &shapes::DescribeInstanceTypesRequest,
) -> Result<shapes::DescribeInstanceTypesResult, Ec2Error> {
    let mut out = Vec::new();
    if req.instance_types.is_empty() {
        out.extend(TYPES.iter().map(InstanceType::to_shape));
    }
    for name in &req.instance_types {
        let t = find(name).ok_or_else(|| {
            Ec2Error::invalid_parameter(format!(
                "The following supplied instance types do not exist: [{name}]"
            ))
        })?;
        out.push(t.to_shape());
    }
    // The catalogue's (or the request's) order: a page's key is the position in it.
    let keyed: Vec<(usize, shapes::InstanceTypeInfo)> = out.into_iter().enumerate().collect();
    let (page, next_token) = crate::ec2::pages::page(
        "DescribeInstanceTypes",
        keyed,
        |(i, _)| format!("{i:06}"),
        crate::ec2::pages::PageRequest::new(req.max_results, &req.next_token),
        crate::ec2::pages::Limits::between(5, 100),
    )?;
    Ok(shapes::DescribeInstanceTypesResult {
        instance_types: page.into_iter().map(|(_, t)| t).collect(),
        next_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_sizes_are_there() {
        for family in ["t2", "t3", "m5", "c5", "r5", "m5d", "c5d"] {
            assert!(find(&format!("{family}.large")).is_some(), "{family}");
            assert!(find(&format!("{family}.2xlarge")).is_some(), "{family}");
        }
        assert!(find("t2.nano").is_some() && find("t3.nano").is_some());
        let micro = find("t2.micro").unwrap();
        assert_eq!(
            (micro.vcpus, micro.mem_mib, micro.instance_store_gb),
            (1, 1024, 0)
        );
        let d = serde_json::to_value(find("m5d.large").unwrap().to_shape()).unwrap();
        assert_eq!(d["InstanceStorageInfo"]["TotalSizeInGB"], 75);
        assert_eq!(d["InstanceStorageInfo"]["Disks"][0]["Type"], "ssd");
        assert_eq!(d["MemoryInfo"]["SizeInMiB"], 8192);
        assert_eq!(d["VCpuInfo"]["DefaultVCpus"], 2);
        assert!(find("t2.huge").is_none());
    }
}
