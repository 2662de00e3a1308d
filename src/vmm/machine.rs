//! Assembling one guest: KVM VM, memory, devices, kernel, vCPUs. Nothing here runs the
//! guest; [`super::run`] does.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::{Kvm, VmFd};
use thiserror::Error;
use vm_memory::{GuestMemoryBackend, GuestMemoryRegion};
use vmm_sys_util::eventfd::EventFd;

use super::config::{ConfigError, SerialOut, VmConfig};
use super::console::{ConsoleSink, GuestStatus};
use super::devices::bus::{Bus, BusError};
use super::devices::i8042::I8042;
use super::devices::serial::Serial;
use super::devices::virtio::{self, Block, MmioTransport};
use super::exit::{ExitSignal, GuestExit};
use super::memory::{self, GuestMemory};
use super::vcpu::{PauseGate, Vcpu};

#[cfg(target_arch = "x86_64")]
use super::arch::x86_64 as arch;

#[derive(Debug, Error)]
pub enum VmmError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("Cannot open /dev/kvm: {0}. Is KVM enabled on this host, and are you root or in the 'kvm' group?")]
    OpenKvm(#[source] kvm_ioctls::Error),
    #[error("KVM refused {what}: {source}")]
    Kvm {
        what: &'static str,
        #[source]
        source: kvm_ioctls::Error,
    },
    #[error("Cannot allocate {mib} MiB of guest memory: {source}. Ask for less with --mem-mib")]
    Memory {
        mib: u64,
        #[source]
        source: vm_memory::mmap::FromRangesError,
    },
    #[cfg(target_arch = "x86_64")]
    #[error(transparent)]
    Arch(#[from] arch::ArchError),
    #[error("Cannot open the serial output file {path}: {source}")]
    SerialOut {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Cannot create an event fd: {0}")]
    EventFd(#[source] std::io::Error),
    #[error("Device layout error: {0}")]
    Bus(#[from] BusError),
    #[error("Cannot set up the control socket {path}: {source}")]
    ApiSocket {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Disk {path}: {source}")]
    Disk {
        path: String,
        #[source]
        source: virtio::BlockError,
    },
    #[error("Cannot set up a virtio device: {0}")]
    Transport(#[from] virtio::mmio::TransportError),
    #[error("Cannot start a vCPU thread: {0}")]
    VcpuThread(#[source] std::io::Error),
    #[error("The event loop failed: {0}")]
    EventLoop(String),
    #[error("This build of ec2lab cannot boot guests on this architecture yet")]
    UnsupportedArch,
}

fn kvm_err(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> VmmError {
    move |source| VmmError::Kvm { what, source }
}

/// A guest ready to start.
pub struct Machine {
    // Kept alive for the VM's lifetime: dropping them closes the VM.
    _kvm: Kvm,
    _vm: VmFd,
    pub vcpus: Vec<Vcpu>,
    pub i8042: Arc<Mutex<I8042>>,
    pub serial: Arc<Mutex<Serial<ConsoleSink>>>,
    pub exit: Arc<ExitSignal>,
    pub guest: Arc<GuestStatus>,
    pub pause: Arc<PauseGate>,
    pub cmdline: String,
    pub mem: GuestMemory,
}

fn console_writer(out: &SerialOut) -> Result<Box<dyn Write + Send>, VmmError> {
    Ok(match out {
        SerialOut::Stdout => Box::new(std::io::stdout()),
        SerialOut::Discard => Box::new(std::io::sink()),
        SerialOut::File(path) => Box::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| VmmError::SerialOut {
                    path: path.display().to_string(),
                    source,
                })?,
        ),
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

impl Machine {
    pub fn build(cfg: &VmConfig, started: Instant) -> Result<Self, VmmError> {
        cfg.validate()?;
        let kvm = Kvm::new().map_err(VmmError::OpenKvm)?;
        let vm = kvm.create_vm().map_err(kvm_err("to create a VM"))?;
        Self::build_arch(cfg, started, kvm, vm)
    }

    #[cfg(target_arch = "x86_64")]
    fn build_arch(cfg: &VmConfig, started: Instant, kvm: Kvm, vm: VmFd) -> Result<Self, VmmError> {
        use arch::layout;

        arch::setup_vm(&vm)?;
        let mem_size = cfg.mem_mib << 20;
        let mem = memory::create(&layout::memory_regions(mem_size)).map_err(|source| {
            VmmError::Memory {
                mib: cfg.mem_mib,
                source,
            }
        })?;
        register_memory(&vm, &mem)?;

        let exit = Arc::new(ExitSignal::new().map_err(VmmError::EventFd)?);
        let guest = Arc::new(GuestStatus::new(started));

        let mut pio = Bus::new();
        let sink = ConsoleSink::new(
            console_writer(&cfg.serial_out)?,
            guest.clone(),
            exit.clone(),
        );
        let serial = Arc::new(Mutex::new(Serial::new(
            irq_evt(&vm, layout::SERIAL_IRQ)?,
            sink,
        )));
        pio.insert(serial.clone(), u64::from(layout::SERIAL_PORT), 8)?;
        let reset_exit = exit.clone();
        let i8042 = Arc::new(Mutex::new(I8042::new(
            irq_evt(&vm, layout::I8042_IRQ)?,
            Box::new(move || reset_exit.raise(GuestExit::Reset)),
        )));
        pio.insert(i8042.clone(), u64::from(layout::I8042_PORT), 5)?;

        let mut mmio = Bus::new();
        let mut cmdline = cfg.kernel_cmdline();
        let slots = (layout::LAST_IRQ - layout::FIRST_VIRTIO_IRQ + 1) as usize;
        if cfg.disks.len() > slots {
            return Err(ConfigError::TooManyDevices(cfg.disks.len(), slots).into());
        }
        for (i, disk) in cfg.disks.iter().enumerate() {
            let block =
                Block::new(&disk.path, disk.read_only).map_err(|source| VmmError::Disk {
                    path: disk.path.display().to_string(),
                    source,
                })?;
            let base = layout::VIRTIO_MMIO_BASE + i as u64 * layout::VIRTIO_MMIO_SIZE;
            let irq = layout::FIRST_VIRTIO_IRQ + i as u32;
            let interrupt = Arc::new(virtio::Interrupt::with_eventfd(irq_evt(&vm, irq)?));
            let dev = MmioTransport::new(mem.clone(), block, interrupt)?;
            mmio.insert(Arc::new(Mutex::new(dev)), base, layout::VIRTIO_MMIO_SIZE)?;
            // The kernel finds virtio-mmio devices on its command line (no ACPI, no DT).
            cmdline.push_str(&format!(" virtio_mmio.device=4K@{base:#x}:{irq}"));
        }

        let kernel = arch::load_kernel(&mem, &cfg.kernel)?;
        let initrd = match &cfg.initrd {
            Some(p) => Some(arch::load_initrd(&mem, p)?),
            None => None,
        };
        arch::write_boot_info(&mem, &kernel, &cmdline, initrd, mem_size)?;
        let vcpu_count = cfg.effective_vcpus();
        arch::configure_system(&mem, vcpu_count)?;

        let base_cpuid = arch::supported_cpuid(&kvm)?;
        let pause = Arc::new(PauseGate::default());
        let (pio, mmio) = (Arc::new(pio), Arc::new(mmio));
        let mut vcpus = Vec::with_capacity(vcpu_count as usize);
        for id in 0..vcpu_count {
            let fd = vm
                .create_vcpu(u64::from(id))
                .map_err(kvm_err("to create a vCPU"))?;
            arch::configure_vcpu(&base_cpuid, &fd, id, vcpu_count)?;
            if id == 0 {
                arch::setup_boot_vcpu(&mem, &fd, &kernel)?;
            }
            vcpus.push(Vcpu {
                pause: pause.clone(),
                fd,
                id,
                pio: pio.clone(),
                mmio: mmio.clone(),
                mem: mem.clone(),
                exit: exit.clone(),
            });
        }
        Ok(Machine {
            _kvm: kvm,
            _vm: vm,
            vcpus,
            i8042,
            serial,
            exit,
            guest,
            pause,
            cmdline,
            mem,
        })
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn build_arch(_: &VmConfig, _: Instant, _: Kvm, _: VmFd) -> Result<Self, VmmError> {
        Err(VmmError::UnsupportedArch)
    }
}

/// Binds the control socket, replacing a stale one left by a VMM that died.
pub fn bind_api_socket(path: &Path) -> Result<std::os::unix::net::UnixListener, VmmError> {
    let err = |source| VmmError::ApiSocket {
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
