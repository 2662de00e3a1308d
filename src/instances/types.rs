//! Instance types, mirroring real AWS families: vCPUs, memory, and the instance store
//! that the `d` types carry.

use serde_json::{json, Value};

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
    /// The `InstanceTypes[]` element of `describe-instance-types`.
    pub fn describe(&self) -> Value {
        let mut v = json!({
            "InstanceType": self.name,
            "CurrentGeneration": true,
            "FreeTierEligible": matches!(self.name, "t2.micro" | "t3.micro"),
            "SupportedUsageClasses": ["on-demand", "spot"],
            "SupportedRootDeviceTypes": ["ebs"],
            "SupportedVirtualizationTypes": ["hvm"],
            "BareMetal": false,
            "Hypervisor": "kvm",
            "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]},
            "VCpuInfo": {"DefaultVCpus": self.vcpus, "DefaultCores": self.vcpus, "DefaultThreadsPerCore": 1},
            "MemoryInfo": {"SizeInMiB": self.mem_mib},
            "InstanceStorageSupported": self.instance_store_gb > 0,
            "EbsInfo": {"EbsOptimizedSupport": if self.burstable { "unsupported" } else { "default" }},
            "BurstablePerformanceSupported": self.burstable,
        });
        if self.instance_store_gb > 0 {
            v["InstanceStorageInfo"] = json!({
                "TotalSizeInGB": self.instance_store_gb,
                "Disks": [{"SizeInGB": self.instance_store_gb, "Count": 1, "Type": "ssd"}],
                "NvmeSupport": "required",
            });
        }
        v
    }
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
        let d = find("m5d.large").unwrap().describe();
        assert_eq!(d["InstanceStorageInfo"]["TotalSizeInGB"], 75);
        assert_eq!(d["MemoryInfo"]["SizeInMiB"], 8192);
        assert!(find("t2.huge").is_none());
    }
}
