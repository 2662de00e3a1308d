//! The flattened device tree (FDT) that tells an arm64 Linux guest what
//! hardware it has. Bindings: Documentation/devicetree/bindings in Linux
//! (arm/cpus.yaml, arm/psci.yaml, timer/arm,arch_timer.yaml,
//! interrupt-controller/arm,gic-v3.yaml and arm,gic.yaml, serial/8250.yaml,
//! virtio/mmio.yaml).

use thiserror::Error;
use vm_fdt::FdtWriter;
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend};

use super::gic::{
    ppi_flags, GicConfig, FDT_IRQ_TYPE_PPI, FDT_IRQ_TYPE_SPI, IRQ_TYPE_EDGE_RISING,
    IRQ_TYPE_LEVEL_HIGH, TIMER_PPI_HYP, TIMER_PPI_NONSECURE_PHYS, TIMER_PPI_SECURE_PHYS,
    TIMER_PPI_VIRT,
};
use super::layout::{
    check_mem_size, fdt_addr, LayoutError, DRAM_START, FDT_MAX_SIZE, SERIAL_CLOCK_HZ, SERIAL_SIZE,
};
use super::regs::mpidr_to_fdt_reg;
use crate::vmm::memory::GuestMemory;

/// phandle of the interrupt controller (any non-zero value unique in the tree).
const GIC_PHANDLE: u32 = 1;

/// Everything the FDT describes.
#[derive(Debug, Clone)]
pub struct FdtConfig<'a> {
    /// Kernel command line (`/chosen/bootargs`).
    pub cmdline: &'a str,
    /// Number of vCPUs; must equal `mpidrs.len()`.
    pub num_cpus: usize,
    /// Guest RAM size in bytes, at `DRAM_START`.
    pub mem_size: usize,
    /// Initrd (address, size) if one was loaded.
    pub initrd: Option<(GuestAddress, usize)>,
    /// UART (MMIO base, SPI).
    pub serial: (u64, u32),
    /// virtio-mmio transports: (MMIO base, size, SPI).
    pub virtio_devices: &'a [(u64, u64, u32)],
    /// The vGIC actually created (its version decides the node).
    pub gic: GicConfig,
    /// MPIDR_EL1 of each vCPU, in vCPU index order (from `read_mpidr`).
    pub mpidrs: &'a [u64],
}

/// Errors building or placing the FDT.
#[derive(Debug, Error)]
pub enum FdtError {
    /// vm-fdt rejected something.
    #[error("building the device tree failed (an ec2lab bug unless the command line contains odd characters)")]
    Writer(#[from] vm_fdt::Error),
    /// num_cpus and mpidrs disagree.
    #[error("{num_cpus} vCPUs configured but {mpidrs} MPIDR values given; read one MPIDR per vCPU with read_mpidr")]
    CpuCountMismatch {
        /// num_cpus.
        num_cpus: usize,
        /// mpidrs.len().
        mpidrs: usize,
    },
    /// NUL in the command line.
    #[error("the kernel command line contains a NUL byte; remove it")]
    CmdlineNul,
    /// Bigger than Linux accepts.
    #[error("the device tree is {0} bytes, above the 2 MiB arm64 limit; shorten the command line or attach fewer devices")]
    TooLarge(usize),
    /// Bad memory size.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// Writing guest memory failed.
    #[error("writing the device tree into guest memory at {addr:#x} failed (guest memory must be the single region from memory_regions())")]
    GuestMemory {
        /// Where.
        addr: u64,
        /// Why.
        source: vm_memory::GuestMemoryError,
    },
}

/// Builds the FDT blob for `cfg`.
pub fn create_fdt(cfg: &FdtConfig) -> Result<Vec<u8>, FdtError> {
    check_mem_size(cfg.mem_size)?;
    if cfg.mpidrs.len() != cfg.num_cpus {
        return Err(FdtError::CpuCountMismatch {
            num_cpus: cfg.num_cpus,
            mpidrs: cfg.mpidrs.len(),
        });
    }
    if cfg.cmdline.contains('\0') {
        return Err(FdtError::CmdlineNul);
    }

    let mut w = FdtWriter::new()?;
    let root = w.begin_node("")?;
    w.property_string("compatible", "linux,dummy-virt")?;
    // 64-bit addresses and sizes everywhere: RAM and MMIO can exceed 4 GiB.
    w.property_u32("#address-cells", 2)?;
    w.property_u32("#size-cells", 2)?;
    w.property_u32("interrupt-parent", GIC_PHANDLE)?;

    write_cpus(&mut w, cfg.mpidrs)?;
    write_memory(&mut w, cfg.mem_size)?;
    let serial_path = format!("/uart@{:x}", cfg.serial.0);
    write_chosen(&mut w, cfg, &serial_path)?;
    write_gic(&mut w, &cfg.gic)?;
    write_timer(&mut w, cfg)?;
    write_psci(&mut w)?;
    write_serial(&mut w, cfg.serial)?;
    for &(base, size, spi) in cfg.virtio_devices {
        write_virtio(&mut w, base, size, spi)?;
    }

    w.end_node(root)?;
    let blob = w.finish()?;
    if blob.len() > FDT_MAX_SIZE {
        return Err(FdtError::TooLarge(blob.len()));
    }
    Ok(blob)
}

fn write_cpus(w: &mut FdtWriter, mpidrs: &[u64]) -> Result<(), FdtError> {
    let cpus = w.begin_node("cpus")?;
    // reg of a cpu is its MPIDR affinity: two cells (Aff3, Aff2..0), no size.
    w.property_u32("#address-cells", 2)?;
    w.property_u32("#size-cells", 0)?;
    for &mpidr in mpidrs {
        let reg = mpidr_to_fdt_reg(mpidr);
        let cpu = w.begin_node(&format!("cpu@{reg:x}"))?;
        w.property_string("device_type", "cpu")?;
        w.property_string("compatible", "arm,arm-v8")?;
        // Secondaries are started by the guest via PSCI CPU_ON (in-kernel KVM PSCI).
        w.property_string("enable-method", "psci")?;
        w.property_u64("reg", reg)?;
        w.end_node(cpu)?;
    }
    w.end_node(cpus)?;
    Ok(())
}

fn write_memory(w: &mut FdtWriter, mem_size: usize) -> Result<(), FdtError> {
    let mem = w.begin_node(&format!("memory@{DRAM_START:x}"))?;
    w.property_string("device_type", "memory")?;
    w.property_array_u64("reg", &[DRAM_START, mem_size as u64])?;
    w.end_node(mem)?;
    Ok(())
}

fn write_chosen(w: &mut FdtWriter, cfg: &FdtConfig, serial_path: &str) -> Result<(), FdtError> {
    let chosen = w.begin_node("chosen")?;
    w.property_string("bootargs", cfg.cmdline)?;
    w.property_string("stdout-path", serial_path)?;
    if let Some((start, size)) = cfg.initrd {
        // linux,initrd-end is exclusive (first byte after the initrd).
        w.property_u64("linux,initrd-start", start.0)?;
        w.property_u64("linux,initrd-end", start.0 + size as u64)?;
    }
    w.end_node(chosen)?;
    Ok(())
}

fn write_gic(w: &mut FdtWriter, gic: &GicConfig) -> Result<(), FdtError> {
    let intc = w.begin_node(&format!("intc@{:x}", gic.dist_addr))?;
    w.property_string("compatible", gic.compatible())?;
    w.property_null("interrupt-controller")?;
    // <type number flags>, see FDT_IRQ_TYPE_* and IRQ_TYPE_*.
    w.property_u32("#interrupt-cells", 3)?;
    // No child nodes (no ITS); 0 address cells is what interrupt-map parsing
    // expects of a parent without them and keeps dtc's checks quiet.
    w.property_u32("#address-cells", 0)?;
    // GICv3: distributor + one redistributor region covering all vCPUs.
    // GICv2: distributor + CPU interface.
    w.property_array_u64(
        "reg",
        &[
            gic.dist_addr,
            gic.dist_size,
            gic.redist_or_cpu_addr,
            gic.redist_or_cpu_size,
        ],
    )?;
    w.property_u32("phandle", GIC_PHANDLE)?;
    w.end_node(intc)?;
    Ok(())
}

fn write_timer(w: &mut FdtWriter, cfg: &FdtConfig) -> Result<(), FdtError> {
    let flags = ppi_flags(cfg.gic.version, cfg.num_cpus, IRQ_TYPE_LEVEL_HIGH);
    let timer = w.begin_node("timer")?;
    w.property_string("compatible", "arm,armv8-timer")?;
    let mut irqs = Vec::with_capacity(12);
    for ppi in [
        TIMER_PPI_SECURE_PHYS,
        TIMER_PPI_NONSECURE_PHYS,
        TIMER_PPI_VIRT,
        TIMER_PPI_HYP,
    ] {
        irqs.extend_from_slice(&[FDT_IRQ_TYPE_PPI, ppi, flags]);
    }
    w.property_array_u32("interrupts", &irqs)?;
    // The virtual counter keeps running while the vCPU is descheduled, so the
    // guest may use the timer as a clocksource across idle states.
    w.property_null("always-on")?;
    w.end_node(timer)?;
    Ok(())
}

fn write_psci(w: &mut FdtWriter) -> Result<(), FdtError> {
    let psci = w.begin_node("psci")?;
    w.property_string("compatible", "arm,psci-0.2")?;
    // KVM implements PSCI for EL1 guests behind HVC.
    w.property_string("method", "hvc")?;
    w.end_node(psci)?;
    Ok(())
}

fn write_serial(w: &mut FdtWriter, (base, spi): (u64, u32)) -> Result<(), FdtError> {
    let uart = w.begin_node(&format!("uart@{base:x}"))?;
    w.property_string("compatible", "ns16550a")?;
    w.property_array_u64("reg", &[base, SERIAL_SIZE])?;
    w.property_u32("clock-frequency", SERIAL_CLOCK_HZ)?;
    // Edge: the VMM signals the UART through an irqfd, which pulses the line;
    // a level-configured SPI could drop that pulse before the guest sees it.
    w.property_array_u32("interrupts", &[FDT_IRQ_TYPE_SPI, spi, IRQ_TYPE_EDGE_RISING])?;
    w.end_node(uart)?;
    Ok(())
}

fn write_virtio(w: &mut FdtWriter, base: u64, size: u64, spi: u32) -> Result<(), FdtError> {
    let node = w.begin_node(&format!("virtio_mmio@{base:x}"))?;
    w.property_string("compatible", "virtio,mmio")?;
    w.property_array_u64("reg", &[base, size])?;
    // virtio-mmio interrupts are edge: one irqfd pulse per notification.
    w.property_array_u32("interrupts", &[FDT_IRQ_TYPE_SPI, spi, IRQ_TYPE_EDGE_RISING])?;
    // The device model reads guest RAM directly, which is cache coherent.
    w.property_null("dma-coherent")?;
    w.end_node(node)?;
    Ok(())
}

/// Writes `blob` at [`fdt_addr`] for `mem` and returns that address (X0 of the
/// boot vCPU).
pub fn write_fdt(mem: &GuestMemory, blob: &[u8]) -> Result<GuestAddress, FdtError> {
    if blob.len() > FDT_MAX_SIZE {
        return Err(FdtError::TooLarge(blob.len()));
    }
    let end = mem.last_addr().0.saturating_add(1);
    let mem_size = end.saturating_sub(DRAM_START) as usize;
    check_mem_size(mem_size)?;
    let addr = fdt_addr(mem_size);
    mem.write_slice(blob, addr)
        .map_err(|source| FdtError::GuestMemory {
            addr: addr.0,
            source,
        })?;
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmm::arch::aarch64::gic::GicVersion;
    use crate::vmm::arch::aarch64::layout::{
        memory_regions, virtio_mmio_base, virtio_spi, SERIAL_BASE, SERIAL_SPI, VIRTIO_MMIO_SIZE,
    };
    use crate::vmm::arch::aarch64::regs::default_mpidr;

    fn be32s(b: &[u8]) -> Vec<u32> {
        b.chunks_exact(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
            .collect()
    }

    fn be64s(b: &[u8]) -> Vec<u64> {
        b.chunks_exact(8)
            .map(|c| u64::from_be_bytes(c.try_into().unwrap()))
            .collect()
    }

    fn prop<'a>(fdt: &'a ::fdt::Fdt<'a>, node: &str, name: &str) -> &'a [u8] {
        fdt.find_node(node)
            .unwrap_or_else(|| panic!("node {node} missing"))
            .property(name)
            .unwrap_or_else(|| panic!("{node}:{name} missing"))
            .value
    }

    fn str_prop<'a>(fdt: &'a ::fdt::Fdt<'a>, node: &str, name: &str) -> &'a str {
        let v = prop(fdt, node, name);
        std::str::from_utf8(v.strip_suffix(&[0]).expect("NUL terminated")).unwrap()
    }

    struct Owned {
        mpidrs: Vec<u64>,
        virtio: Vec<(u64, u64, u32)>,
    }

    fn owned(n: usize, nvirtio: usize) -> Owned {
        Owned {
            mpidrs: (0..n as u64).map(default_mpidr).collect(),
            virtio: (0..nvirtio)
                .map(|i| {
                    (
                        virtio_mmio_base(i).unwrap(),
                        VIRTIO_MMIO_SIZE,
                        virtio_spi(i).unwrap(),
                    )
                })
                .collect(),
        }
    }

    fn config<'a>(o: &'a Owned, version: GicVersion) -> FdtConfig<'a> {
        FdtConfig {
            cmdline: "console=ttyS0 earlycon=uart,mmio,0x09000000 root=/dev/vda rw",
            num_cpus: o.mpidrs.len(),
            mem_size: 256 << 20,
            initrd: Some((GuestAddress(0x8f00_0000), 0x12_3456)),
            serial: (SERIAL_BASE, SERIAL_SPI),
            virtio_devices: &o.virtio,
            gic: GicConfig::new(version, o.mpidrs.len()).unwrap(),
            mpidrs: &o.mpidrs,
        }
    }

    #[test]
    fn gicv3_tree_has_expected_nodes() {
        let o = owned(4, 2);
        let cfg = config(&o, GicVersion::V3);
        let blob = create_fdt(&cfg).unwrap();
        let fdt = ::fdt::Fdt::new(&blob).expect("blob parses");

        // Root.
        assert_eq!(str_prop(&fdt, "/", "compatible"), "linux,dummy-virt");
        assert_eq!(be32s(prop(&fdt, "/", "#address-cells")), [2]);
        assert_eq!(be32s(prop(&fdt, "/", "#size-cells")), [2]);
        assert_eq!(be32s(prop(&fdt, "/", "interrupt-parent")), [GIC_PHANDLE]);

        // Chosen.
        assert_eq!(fdt.chosen().bootargs(), Some(cfg.cmdline));
        assert_eq!(str_prop(&fdt, "/chosen", "stdout-path"), "/uart@9000000");
        assert_eq!(
            be64s(prop(&fdt, "/chosen", "linux,initrd-start")),
            [0x8f00_0000]
        );
        assert_eq!(
            be64s(prop(&fdt, "/chosen", "linux,initrd-end")),
            [0x8f00_0000 + 0x12_3456]
        );

        // CPUs.
        let cpus = fdt.find_node("/cpus").unwrap();
        let cpu_nodes: Vec<_> = cpus.children().collect();
        assert_eq!(cpu_nodes.len(), 4);
        for (i, c) in cpu_nodes.iter().enumerate() {
            let reg = be64s(c.property("reg").unwrap().value);
            assert_eq!(reg, [mpidr_to_fdt_reg(default_mpidr(i as u64))]);
            assert_eq!(c.name, format!("cpu@{:x}", reg[0]));
            assert_eq!(c.property("enable-method").unwrap().as_str(), Some("psci"));
            assert_eq!(c.property("device_type").unwrap().as_str(), Some("cpu"));
            assert_eq!(
                c.property("compatible").unwrap().as_str(),
                Some("arm,arm-v8")
            );
        }

        // Memory.
        assert_eq!(
            be64s(prop(&fdt, "/memory@80000000", "reg")),
            [0x8000_0000, 256 << 20]
        );
        assert_eq!(str_prop(&fdt, "/memory@80000000", "device_type"), "memory");

        // GIC.
        let intc = "/intc@8000000";
        assert_eq!(str_prop(&fdt, intc, "compatible"), "arm,gic-v3");
        assert_eq!(be32s(prop(&fdt, intc, "#interrupt-cells")), [3]);
        assert!(prop(&fdt, intc, "interrupt-controller").is_empty());
        assert_eq!(
            be64s(prop(&fdt, intc, "reg")),
            [0x0800_0000, 0x1_0000, 0x0801_0000, 4 * 0x2_0000]
        );
        assert_eq!(be32s(prop(&fdt, intc, "phandle")), [GIC_PHANDLE]);
        assert_eq!(be32s(prop(&fdt, intc, "#address-cells")), [0]);

        // Timer: four level-high PPIs, no CPU mask on v3.
        assert_eq!(str_prop(&fdt, "/timer", "compatible"), "arm,armv8-timer");
        assert_eq!(
            be32s(prop(&fdt, "/timer", "interrupts")),
            [1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4]
        );
        assert!(fdt
            .find_node("/timer")
            .unwrap()
            .property("always-on")
            .is_some());

        // PSCI.
        assert_eq!(str_prop(&fdt, "/psci", "compatible"), "arm,psci-0.2");
        assert_eq!(str_prop(&fdt, "/psci", "method"), "hvc");

        // UART.
        let uart = "/uart@9000000";
        assert_eq!(str_prop(&fdt, uart, "compatible"), "ns16550a");
        assert_eq!(be64s(prop(&fdt, uart, "reg")), [0x0900_0000, 0x1000]);
        assert_eq!(be32s(prop(&fdt, uart, "clock-frequency")), [1_843_200]);
        assert_eq!(be32s(prop(&fdt, uart, "interrupts")), [0, SERIAL_SPI, 1]);

        // virtio-mmio.
        for i in 0..2 {
            let base = virtio_mmio_base(i).unwrap();
            let path = format!("/virtio_mmio@{base:x}");
            assert_eq!(str_prop(&fdt, &path, "compatible"), "virtio,mmio");
            assert_eq!(be64s(prop(&fdt, &path, "reg")), [base, 0x1000]);
            assert_eq!(
                be32s(prop(&fdt, &path, "interrupts")),
                [0, virtio_spi(i).unwrap(), 1]
            );
            assert!(prop(&fdt, &path, "dma-coherent").is_empty());
        }
    }

    #[test]
    fn gicv2_tree() {
        let o = owned(2, 0);
        let mut cfg = config(&o, GicVersion::V2);
        cfg.initrd = None;
        let blob = create_fdt(&cfg).unwrap();
        let fdt = ::fdt::Fdt::new(&blob).unwrap();
        let intc = "/intc@8000000";
        assert_eq!(str_prop(&fdt, intc, "compatible"), "arm,cortex-a15-gic");
        assert_eq!(
            be64s(prop(&fdt, intc, "reg")),
            [0x0800_0000, 0x1000, 0x0801_0000, 0x2000]
        );
        // GICv2 PPIs carry the CPU mask (2 CPUs -> 0b11 << 8).
        let t = be32s(prop(&fdt, "/timer", "interrupts"));
        assert!(t.chunks(3).all(|c| c[0] == 1 && c[2] == 0x304));
        let chosen = fdt.find_node("/chosen").unwrap();
        assert!(chosen.property("linux,initrd-start").is_none());
        assert!(fdt.find_node("/virtio_mmio@a000000").is_none());
    }

    #[test]
    fn rejects_inconsistent_config() {
        let o = owned(2, 0);
        let mut cfg = config(&o, GicVersion::V3);
        cfg.num_cpus = 3;
        assert!(matches!(
            create_fdt(&cfg),
            Err(FdtError::CpuCountMismatch { .. })
        ));
        let mut cfg = config(&o, GicVersion::V3);
        cfg.cmdline = "a\0b";
        assert!(matches!(create_fdt(&cfg), Err(FdtError::CmdlineNul)));
        let mut cfg = config(&o, GicVersion::V3);
        cfg.mem_size = 1 << 20;
        assert!(matches!(create_fdt(&cfg), Err(FdtError::Layout(_))));
    }

    #[test]
    fn huge_cmdline_is_too_large() {
        let o = owned(1, 0);
        let long = "x".repeat(FDT_MAX_SIZE + 1);
        let mut cfg = config(&o, GicVersion::V3);
        cfg.cmdline = &long;
        assert!(matches!(create_fdt(&cfg), Err(FdtError::TooLarge(_))));
    }

    #[test]
    fn write_fdt_places_blob_at_top_of_ram() {
        let mem_size = 64 << 20;
        let mem = crate::vmm::memory::create(&memory_regions(mem_size)).unwrap();
        let o = owned(1, 1);
        let mut cfg = config(&o, GicVersion::V3);
        cfg.mem_size = mem_size;
        let blob = create_fdt(&cfg).unwrap();
        let addr = write_fdt(&mem, &blob).unwrap();
        assert_eq!(addr, GuestAddress(0x8000_0000 + (62 << 20)));
        let mut back = vec![0u8; blob.len()];
        mem.read_slice(&mut back, addr).unwrap();
        assert_eq!(back, blob);
        // FDT magic, big-endian.
        assert_eq!(&back[..4], &[0xd0, 0x0d, 0xfe, 0xed]);
    }

    /// Writes a sample blob to $EC2LAB_DUMP_DTB for inspection with
    /// `dtc -I dtb -O dts`. Run with `--ignored`.
    #[test]
    #[ignore]
    fn dump_dtb_for_dtc() {
        let Some(path) = std::env::var_os("EC2LAB_DUMP_DTB") else {
            return;
        };
        let o = owned(2, 2);
        let blob = create_fdt(&config(&o, GicVersion::V3)).unwrap();
        std::fs::write(path, blob).unwrap();
    }
}
