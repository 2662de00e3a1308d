//! Assembling one guest: KVM VM, memory, devices, kernel, vCPUs. Nothing here runs the
//! guest; [`super::run`] does.

mod error;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::{Kvm, VcpuFd, VmFd};
use vm_memory::{GuestAddress, GuestMemoryBackend, GuestMemoryRegion};
use vmm_sys_util::eventfd::EventFd;

use super::config::{ConfigError, SerialOut, VmConfig};
use super::console::{ConsoleSink, GuestStatus};
use super::console_log::{self, RotatingLog};
use super::devices::bus::Bus;
use super::devices::i8042::I8042;
use super::devices::serial::Serial;
use super::devices::virtio::net::Net;
use super::devices::virtio::{self, Block, MmioTransport};
use super::exit::ExitSignal;
use super::memory::{self, GuestMemory};
use super::snapshot::devices::DeviceSet;
use super::snapshot::{self, Loaded};
use super::vcpu::{PauseGate, Vcpu};

#[cfg(target_arch = "aarch64")]
use super::arch::aarch64 as arch;
#[cfg(target_arch = "x86_64")]
use super::arch::x86_64 as arch;

pub use error::VmmError;

fn kvm_err(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> VmmError {
    move |source| VmmError::Kvm { what, source }
}

fn restore_err(cfg: &VmConfig) -> impl FnOnce(snapshot::SnapshotError) -> VmmError {
    let dir = cfg
        .restore
        .as_ref()
        .map_or_else(String::new, |d| d.display().to_string());
    move |source| VmmError::Restore { dir, source }
}

/// KVM objects besides the VM itself that must live as long as the guest.
#[cfg(target_arch = "x86_64")]
type ArchState = ();
/// The vGIC: KVM ties it to the VM, but its device fd is kept open with the VM.
#[cfg(target_arch = "aarch64")]
type ArchState = arch::Gic;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
type ArchState = ();

/// A guest ready to start.
pub struct Machine {
    // Kept alive for the VM's lifetime: dropping them closes the VM.
    _kvm: Kvm,
    /// The VM, shared with the controller, which reads its state for a snapshot.
    pub vm: Arc<VmFd>,
    _arch: ArchState,
    /// The MSRs a snapshot saves (KVM's list); empty off x86.
    pub msr_list: Vec<u32>,
    /// The CPUID bytes the VMM gives vCPU 0, which a snapshot's CPU check hashes.
    pub guest_cpuid: Vec<u8>,
    /// The devices the guest was given, which a snapshot records.
    pub device_set: DeviceSet,
    /// Guest memory in MiB.
    pub mem_mib: u64,
    /// vCPUs the guest has.
    pub vcpu_count: u8,
    /// The vCPUs, taken by `vmm::run` to start their threads.
    pub vcpus: Vec<Vcpu>,
    /// The PC keyboard controller that carries Ctrl-Alt-Del; x86 only.
    pub i8042: Option<Arc<Mutex<I8042>>>,
    /// The console UART.
    pub serial: Arc<Mutex<Serial<ConsoleSink>>>,
    /// Where devices and vCPUs report how the guest ended.
    pub exit: Arc<ExitSignal>,
    /// The guest's milestones, read from the console.
    pub guest: Arc<GuestStatus>,
    /// Stops and restarts all vCPUs between two runs.
    pub pause: Arc<PauseGate>,
    /// The virtio-blk devices in slot order, for attaching and detaching media.
    pub disks: DiskSlots,
    /// The virtio-net devices, whose taps the main loop polls.
    pub nets: NetDevices,
    /// The kernel command line the guest booted with.
    pub cmdline: String,
    /// The guest's RAM.
    pub mem: GuestMemory,
}

/// The block devices of a guest, by slot.
pub type DiskSlots = Arc<Mutex<Vec<Arc<Mutex<MmioTransport<Block>>>>>>;
/// The network devices of a guest, in `--net` order.
pub type NetDevices = Arc<Mutex<Vec<Arc<Mutex<MmioTransport<Net>>>>>>;

fn console_writer(out: &SerialOut) -> Result<Box<dyn Write + Send>, VmmError> {
    Ok(match out {
        SerialOut::Stdout => Box::new(std::io::stdout()),
        SerialOut::Discard => Box::new(std::io::sink()),
        // Rotated at a cap: what the guest prints never fills the host's disk.
        SerialOut::File(path) => Box::new(RotatingLog::open(path, console_log::LOG_MAX).map_err(
            |source| VmmError::SerialOut {
                path: path.display().to_string(),
                source,
            },
        )?),
    })
}

fn irq_evt(vm: &VmFd, gsi: u32) -> Result<EventFd, VmmError> {
    let evt = EventFd::new(libc::EFD_NONBLOCK).map_err(VmmError::EventFd)?;
    vm.register_irqfd(&evt, gsi)
        .map_err(kvm_err("an interrupt line (irqfd)"))?;
    Ok(evt)
}

fn register_memory(vm: &VmFd, mem: &GuestMemory) -> Result<(), VmmError> {
    for (slot, region) in mem.iter().enumerate() {
        let r = kvm_userspace_memory_region {
            slot: slot as u32,
            flags: 0,
            guest_phys_addr: region.start_addr().0,
            memory_size: region.len(),
            userspace_addr: region.as_ptr() as u64,
        };
        // SAFETY: the region is a live mmap owned by `mem`, which the Machine keeps for
        // as long as the VM exists, and slots do not overlap.
        unsafe { vm.set_user_memory_region(r) }.map_err(kvm_err("guest memory"))?;
    }
    Ok(())
}

fn create_vcpu(vm: &VmFd, id: u8) -> Result<VcpuFd, VmmError> {
    vm.create_vcpu(u64::from(id))
        .map_err(kvm_err("to create a vCPU"))
}

/// Where one virtio-mmio device sits: its MMIO base and the GSI of its interrupt.
#[derive(Clone, Copy, Debug)]
struct MmioSlot {
    base: u64,
    gsi: u32,
}

/// What every architecture sets up the same way: guest memory, the exit signal, the
/// console, virtio disks and the vCPU handles.
struct Common {
    mem: GuestMemory,
    disks: DiskSlots,
    nets: NetDevices,
    exit: Arc<ExitSignal>,
    guest: Arc<GuestStatus>,
    pause: Arc<PauseGate>,
}

impl Common {
    /// Allocates guest memory at `regions` and hands it to KVM.
    fn new(
        vm: &VmFd,
        cfg: &VmConfig,
        started: Instant,
        regions: &[(GuestAddress, usize)],
        restore: Option<&Loaded>,
    ) -> Result<Self, VmmError> {
        let mem = match restore {
            Some(l) => snapshot::memory::map_private(&l.memory_file, &l.state.memory)
                .map_err(restore_err(cfg))?,
            None => memory::create(regions).map_err(|source| VmmError::Memory {
                mib: cfg.mem_mib,
                source,
            })?,
        };
        register_memory(vm, &mem)?;
        Ok(Common {
            mem,
            disks: DiskSlots::default(),
            nets: NetDevices::default(),
            exit: Arc::new(ExitSignal::new().map_err(VmmError::EventFd)?),
            guest: Arc::new(GuestStatus::new(started)),
            pause: Arc::new(PauseGate::default()),
        })
    }

    /// The 16550 UART behind the guest console, interrupting on `gsi`. The caller puts
    /// it on its bus (port I/O on x86, MMIO on aarch64).
    fn serial(
        &self,
        vm: &VmFd,
        cfg: &VmConfig,
        gsi: u32,
        restore: Option<&Loaded>,
    ) -> Result<Arc<Mutex<Serial<ConsoleSink>>>, VmmError> {
        let sink = ConsoleSink::new(
            console_writer(&cfg.serial_out)?,
            self.guest.clone(),
            self.exit.clone(),
        );
        let irq = irq_evt(vm, gsi)?;
        let serial = match restore {
            Some(l) => Serial::from_state(&l.state.devices.serial, irq, sink).map_err(|e| {
                restore_err(cfg)(snapshot::SnapshotError::Device {
                    what: "the serial port".into(),
                    source: Box::new(e),
                })
            })?,
            None => Serial::new(irq, sink),
        };
        Ok(Arc::new(Mutex::new(serial)))
    }

    /// Puts the saved state of every virtio device back (after `attach_devices`).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn restore_devices(&self, cfg: &VmConfig, l: &Loaded) -> Result<(), VmmError> {
        let saved = &l.state.devices;
        let fail = |what: String, e: virtio::mmio::RestoreError| {
            restore_err(cfg)(snapshot::SnapshotError::Device {
                what,
                source: Box::new(e),
            })
        };
        let disks = self.disks.lock().unwrap_or_else(|e| e.into_inner());
        for (i, (dev, s)) in disks.iter().zip(&saved.disks).enumerate() {
            dev.lock()
                .unwrap_or_else(|e| e.into_inner())
                .restore_state(s)
                .map_err(|e| fail(format!("disk slot {i}"), e))?;
        }
        let nets = self.nets.lock().unwrap_or_else(|e| e.into_inner());
        for (i, (dev, s)) in nets.iter().zip(&saved.nets).enumerate() {
            dev.lock()
                .unwrap_or_else(|e| e.into_inner())
                .restore_state(s)
                .map_err(|e| fail(format!("network interface {i}"), e))?;
        }
        Ok(())
    }

    /// Puts one virtio-blk device per disk, then one virtio-net device per network
    /// interface, on `mmio`, in order, in the first free `slots`; returns the slots used.
    fn attach_devices<'s>(
        &self,
        vm: &VmFd,
        mmio: &mut Bus,
        cfg: &VmConfig,
        slots: &'s [MmioSlot],
        slot_size: u64,
    ) -> Result<&'s [MmioSlot], VmmError> {
        let (disks, nets) = (&cfg.disks, &cfg.nets);
        let wanted = disks.len() + nets.len();
        if wanted > slots.len() {
            return Err(ConfigError::TooManyDevices(wanted, slots.len()).into());
        }
        for (net, slot) in nets.iter().zip(&slots[disks.len()..]) {
            let dev = Net::new(&net.tap, net.mac).map_err(|source| VmmError::Tap {
                tap: net.tap.clone(),
                source,
            })?;
            let interrupt = Arc::new(virtio::Interrupt::with_eventfd(irq_evt(vm, slot.gsi)?));
            let dev = Arc::new(Mutex::new(MmioTransport::new(
                self.mem.clone(),
                dev,
                interrupt,
            )?));
            mmio.insert(dev.clone(), slot.base, slot_size)?;
            self.nets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(dev);
        }
        for (disk, slot) in disks.iter().zip(slots) {
            let disk_err = |source| VmmError::Disk {
                path: disk
                    .path
                    .as_ref()
                    .map_or("(empty slot)".into(), |p| p.display().to_string()),
                source,
            };
            let mut block = match &disk.path {
                Some(path) => Block::new(path, disk.read_only).map_err(disk_err)?,
                None => Block::empty(),
            };
            if let Some(serial) = &disk.serial {
                block.set_serial(serial).map_err(disk_err)?;
            }
            let interrupt = Arc::new(virtio::Interrupt::with_eventfd(irq_evt(vm, slot.gsi)?));
            let dev = Arc::new(Mutex::new(MmioTransport::new(
                self.mem.clone(),
                block,
                interrupt,
            )?));
            mmio.insert(dev.clone(), slot.base, slot_size)?;
            self.disks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(dev);
        }
        Ok(&slots[..wanted])
    }

    fn vcpu(&self, fd: VcpuFd, id: u8, pio: &Arc<Bus>, mmio: &Arc<Bus>) -> Vcpu {
        Vcpu {
            pause: self.pause.clone(),
            fd,
            id,
            pio: pio.clone(),
            mmio: mmio.clone(),
            mem: self.mem.clone(),
            exit: self.exit.clone(),
        }
    }
}

/// What only one architecture has, to complete a [`Machine`].
struct ArchParts {
    arch: ArchState,
    msr_list: Vec<u32>,
    mem_mib: u64,
    vcpu_count: u8,
    vcpus: Vec<Vcpu>,
    i8042: Option<Arc<Mutex<I8042>>>,
    serial: Arc<Mutex<Serial<ConsoleSink>>>,
    cmdline: String,
}

impl Machine {
    /// Builds the VM that `cfg` describes: memory, devices, kernel and vCPUs, all ready to run.
    /// With `cfg.restore`, builds it from that snapshot instead, after checking the
    /// snapshot (version, checksum, host, CPU, memory file, device set): nothing of a
    /// refused snapshot is built, and no vCPU runs before all of it is restored.
    pub fn build(cfg: &VmConfig, started: Instant) -> Result<Self, VmmError> {
        cfg.validate()?;
        let kvm = Kvm::new().map_err(VmmError::OpenKvm)?;
        let loaded = match &cfg.restore {
            Some(dir) => Some(Self::check_snapshot(cfg, &kvm, dir)?),
            None => None,
        };
        let vm = kvm.create_vm().map_err(kvm_err("to create a VM"))?;
        Self::build_arch(cfg, started, kvm, vm, loaded.as_ref())
    }

    /// Loads and checks the snapshot at `dir` for this launch.
    fn check_snapshot(cfg: &VmConfig, kvm: &Kvm, dir: &Path) -> Result<Loaded, VmmError> {
        let err = restore_err(cfg);
        let cpuid_here = |vcpus| cpuid_here(kvm, cfg, vcpus);
        let loaded = match snapshot::load(dir, cpuid_here) {
            Ok(l) => l,
            Err(e) => return Err(err(e)),
        };
        match loaded.state.device_set.check_launch(cfg) {
            Ok(()) => Ok(loaded),
            Err(e) => Err(err(e)),
        }
    }

    fn assemble(kvm: Kvm, vm: VmFd, common: Common, parts: ArchParts, cfg: &VmConfig) -> Self {
        Machine {
            guest_cpuid: cpuid_here(&kvm, cfg, parts.vcpu_count),
            _kvm: kvm,
            vm: Arc::new(vm),
            _arch: parts.arch,
            msr_list: parts.msr_list,
            device_set: DeviceSet::of(cfg),
            mem_mib: parts.mem_mib,
            vcpu_count: parts.vcpu_count,
            vcpus: parts.vcpus,
            i8042: parts.i8042,
            serial: parts.serial,
            exit: common.exit,
            guest: common.guest,
            pause: common.pause,
            disks: common.disks,
            nets: common.nets,
            cmdline: parts.cmdline,
            mem: common.mem,
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn build_arch(
        cfg: &VmConfig,
        started: Instant,
        kvm: Kvm,
        vm: VmFd,
        restore: Option<&Loaded>,
    ) -> Result<Self, VmmError> {
        use arch::layout;

        arch::setup_vm(&vm)?;
        let mem_mib = restore.map_or(cfg.mem_mib, |l| l.state.mem_mib);
        let mem_size = mem_mib << 20;
        let common = Common::new(
            &vm,
            cfg,
            started,
            &layout::memory_regions(mem_size),
            restore,
        )?;
        let mem = &common.mem;

        let mut pio = Bus::new();
        let serial = common.serial(&vm, cfg, layout::SERIAL_IRQ, restore)?;
        pio.insert(serial.clone(), u64::from(layout::SERIAL_PORT), 8)?;
        // The keyboard controller: Ctrl-Alt-Del in, the guest's reset pulse out.
        let reset_exit = common.exit.clone();
        let mut kbd = I8042::new(
            irq_evt(&vm, layout::I8042_IRQ)?,
            Box::new(move || reset_exit.raise(super::exit::GuestExit::Reset)),
        );
        if let Some(s) = restore.and_then(|l| l.state.devices.i8042.as_ref()) {
            kbd.restore(s);
        }
        let i8042 = Arc::new(Mutex::new(kbd));
        pio.insert(i8042.clone(), u64::from(layout::I8042_PORT), 5)?;

        let mut mmio = Bus::new();
        let slots: Vec<MmioSlot> = (layout::FIRST_VIRTIO_IRQ..=layout::LAST_IRQ)
            .zip(0u64..)
            .map(|(gsi, i)| MmioSlot {
                base: layout::VIRTIO_MMIO_BASE + i * layout::VIRTIO_MMIO_SIZE,
                gsi,
            })
            .collect();
        let used = common.attach_devices(&vm, &mut mmio, cfg, &slots, layout::VIRTIO_MMIO_SIZE)?;
        let msr_list = snapshot::x86_64::msr_index_list(&kvm).unwrap_or_default();
        let (pio, mmio) = (Arc::new(pio), Arc::new(mmio));

        if let Some(l) = restore {
            // The guest's memory, tables and kernel are in the snapshot: only KVM's
            // state and the devices' are put back, everything before any vCPU runs.
            common.restore_devices(cfg, l)?;
            let fds = (0..l.state.vcpus)
                .map(|id| create_vcpu(&vm, id))
                .collect::<Result<Vec<_>, _>>()?;
            l.state.vm.restore(&vm).map_err(restore_err(cfg))?;
            let mut vcpus = Vec::with_capacity(fds.len());
            for ((id, fd), state) in (0u8..).zip(fds).zip(&l.state.vcpu_states) {
                state.restore(&fd).map_err(restore_err(cfg))?;
                vcpus.push(common.vcpu(fd, id, &pio, &mmio));
            }
            let parts = ArchParts {
                arch: (),
                msr_list,
                mem_mib,
                vcpu_count: l.state.vcpus,
                vcpus,
                i8042: Some(i8042),
                serial,
                cmdline: l.state.cmdline.clone(),
            };
            return Ok(Self::assemble(kvm, vm, common, parts, cfg));
        }

        let mut cmdline = cfg.kernel_cmdline();
        // The kernel finds virtio-mmio devices on its command line (no ACPI, no DT).
        for s in used {
            cmdline.push_str(&format!(" virtio_mmio.device=4K@{:#x}:{}", s.base, s.gsi));
        }

        let kernel = arch::load_kernel(mem, &cfg.kernel)?;
        let initrd = match &cfg.initrd {
            Some(p) => Some(arch::load_initrd(mem, p)?),
            None => None,
        };
        arch::write_boot_info(mem, &kernel, &cmdline, initrd, mem_size)?;
        let vcpu_count = cfg.vcpus;
        arch::configure_system(mem, vcpu_count)?;

        let base_cpuid = arch::supported_cpuid(&kvm)?;
        let mut vcpus = Vec::with_capacity(vcpu_count as usize);
        for id in 0..vcpu_count {
            let fd = create_vcpu(&vm, id)?;
            arch::configure_vcpu(&base_cpuid, &fd, id, vcpu_count, cfg.flavor.hypercalls())?;
            if id == 0 {
                arch::setup_boot_vcpu(mem, &fd, &kernel)?;
            }
            vcpus.push(common.vcpu(fd, id, &pio, &mmio));
        }
        let parts = ArchParts {
            arch: (),
            msr_list,
            mem_mib,
            vcpu_count,
            vcpus,
            i8042: Some(i8042),
            serial,
            cmdline,
        };
        Ok(Self::assemble(kvm, vm, common, parts, cfg))
    }

    /// Follows the boot order `arch::aarch64`'s module documentation prescribes.
    #[cfg(target_arch = "aarch64")]
    fn build_arch(
        cfg: &VmConfig,
        started: Instant,
        kvm: Kvm,
        vm: VmFd,
        restore: Option<&Loaded>,
    ) -> Result<Self, VmmError> {
        use aarch64_boot::{arch_err, attach_devices, init_vcpus, load_payloads};

        if restore.is_some() {
            // `snapshot::save` refuses aarch64 guests (no vGIC state yet), so there is
            // nothing valid to restore here.
            return Err(restore_err(cfg)(snapshot::SnapshotError::Unsupported(
                "aarch64",
            )));
        }
        let mem_size = usize::try_from(cfg.mem_mib << 20).unwrap_or(usize::MAX);
        arch::check_mem_size(mem_size).map_err(arch_err)?;
        let common = Common::new(&vm, cfg, started, &arch::memory_regions(mem_size), None)?;

        // vCPUs before the vGIC (KVM sizes it for the vCPUs that exist), devices after it
        // (their irqfds need it).
        let fds = init_vcpus(&vm, cfg.vcpus)?;
        let gic = arch::create_gic(&vm, fds.len()).map_err(arch_err)?;
        let mut mmio = Bus::new();
        let serial = common.serial(&vm, cfg, arch::SERIAL_SPI, None)?;
        mmio.insert(serial.clone(), arch::SERIAL_BASE, arch::layout::SERIAL_SIZE)?;
        let virtio = attach_devices(&common, &vm, &mut mmio, cfg)?;

        let (kernel, initrd) = load_payloads(&common.mem, cfg, mem_size)?;
        let mpidrs: Vec<u64> = fds
            .iter()
            .map(arch::read_mpidr)
            .collect::<Result<_, _>>()
            .map_err(arch_err)?;
        let cmdline = cfg.kernel_cmdline();
        let fdt = arch::FdtConfig {
            cmdline: &cmdline,
            num_cpus: fds.len(),
            mem_size,
            initrd,
            serial: (arch::SERIAL_BASE, arch::SERIAL_SPI),
            virtio_devices: &virtio,
            gic: *gic.config(),
            mpidrs: &mpidrs,
        };
        let fdt_addr = arch::configure_system(&common.mem, &fdt).map_err(arch_err)?;

        // No port I/O on arm: every device is on the MMIO bus.
        let (pio, mmio) = (Arc::new(Bus::new()), Arc::new(mmio));
        let mut vcpus = Vec::with_capacity(fds.len());
        for (id, fd) in (0u8..).zip(fds) {
            arch::setup_regs(&fd, usize::from(id), kernel.entry, fdt_addr).map_err(arch_err)?;
            vcpus.push(common.vcpu(fd, id, &pio, &mmio));
        }
        let parts = ArchParts {
            arch: gic,
            msr_list: Vec::new(),
            mem_mib: cfg.mem_mib,
            vcpu_count: cfg.vcpus,
            vcpus,
            i8042: None,
            serial,
            cmdline,
        };
        Ok(Self::assemble(kvm, vm, common, parts, cfg))
    }

    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    fn build_arch(
        _: &VmConfig,
        _: Instant,
        _: Kvm,
        _: VmFd,
        _: Option<&Loaded>,
    ) -> Result<Self, VmmError> {
        Err(VmmError::UnsupportedArch)
    }
}

/// The steps of the aarch64 build that have no x86 counterpart.
#[cfg(target_arch = "aarch64")]
mod aarch64_boot;

/// The CPUID bytes this host gives vCPU 0 of a guest of `vcpus` vCPUs launched as `cfg`,
/// for the snapshot's CPU check (x86); empty elsewhere.
#[cfg(target_arch = "x86_64")]
fn cpuid_here(kvm: &Kvm, cfg: &VmConfig, vcpus: u8) -> Vec<u8> {
    match arch::supported_cpuid(kvm) {
        Ok(base) => {
            let c = arch::cpuid::for_vcpu(&base, 0, vcpus, cfg.flavor.hypercalls());
            snapshot::x86_64::cpuid_bytes(c.as_slice())
        }
        Err(_) => Vec::new(),
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn cpuid_here(_: &Kvm, _: &VmConfig, _: u8) -> Vec<u8> {
    Vec::new()
}

/// Binds a listening socket (control or console), replacing a stale one left by a VMM
/// that died.
pub fn bind_socket(path: &Path) -> Result<std::os::unix::net::UnixListener, VmmError> {
    let err = |source| VmmError::Socket {
        path: path.display().to_string(),
        source,
    };
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another VMM is answering on it",
            )));
        }
        std::fs::remove_file(path).map_err(err)?;
    }
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(err)?;
    listener.set_nonblocking(true).map_err(err)?;
    Ok(listener)
}
