//! The VMM: one guest per process. It knows nothing of EC2; it boots a kernel with disks
//! and network interfaces, answers on its control socket, and exits with a code that
//! says how the guest ended (see [`exit`]).
//!
//! Its contract with whoever starts it is typed and lives here: the launch description
//! ([`config::VmConfig`], from flags or a launch file) going in, and the exit record
//! ([`exit::ExitRecord`]) coming out. It imports nothing from the EC2 side.

pub mod api;
pub mod arch;
pub mod config;
pub mod console;
pub mod console_log;
pub mod controller;
pub mod devices;
pub mod exit;
pub mod footprint;
pub mod host;
pub mod jail;
pub mod lease;
pub mod machine;
pub mod memory;
pub mod metrics;
pub mod seccomp;
pub mod snapshot;
pub mod vcpu;

use std::time::Instant;

use event_manager::{EventManager, SubscriberOps};

use api::Status;
use config::VmConfig;
use controller::Controller;
use exit::{ExitRecord, GuestExit};
pub use machine::VmmError;
use machine::{bind_socket, Machine};

/// Runs the guest to the end, as [`run`] does, then cleans up after it: removes its
/// sockets and leaves the exit record in `cfg.exit_file`. Returns the record.
pub fn run_and_record(cfg: &VmConfig) -> ExitRecord {
    let outcome = run(cfg);
    for sock in [&cfg.api_sock, &cfg.console_sock].into_iter().flatten() {
        let _ = std::fs::remove_file(sock);
    }
    let record = match &outcome {
        Ok(exit) => ExitRecord::guest(exit),
        Err(e) => ExitRecord::vmm_error(e),
    };
    if let Some(path) = &cfg.exit_file {
        if let Err(e) = record.write(path) {
            eprintln!(
                "ec2lab vmm: could not write the exit file {}: {e}",
                path.display()
            );
        }
    }
    record
}

/// Boots the guest and runs it to the end; returns how it ended.
pub fn run(cfg: &VmConfig) -> Result<GuestExit, VmmError> {
    let started = Instant::now();
    let listener = cfg.api_sock.as_deref().map(bind_socket).transpose()?;
    let console_listener = cfg.console_sock.as_deref().map(bind_socket).transpose()?;
    let mut machine = Machine::build(cfg, started)?;
    // Everything the guest needs is open; from here on the VMM can reach nothing else.
    if let Some(j) = &cfg.jail {
        // What a snapshot records of the host is read from /sys, which the jail hides.
        snapshot::host::kvm_kind();
        let t = Instant::now();
        jail::enter(j)?;
        eprintln!(
            "ec2lab vmm: jailed in {} as uid {} in {} us (own mount, IPC, UTS and network namespaces, no capabilities)",
            j.root.display(),
            j.uid,
            t.elapsed().as_micros()
        );
    }
    let status = Status {
        pid: jail::host_pid(),
        kvm: cfg.flavor.name().into(),
        vcpus: machine.vcpu_count,
        requested_vcpus: cfg.vcpus,
        mem_mib: machine.mem_mib,
        setup_ms: started.elapsed().as_millis() as u64,
        ..Default::default()
    };
    let forward_stdin = matches!(cfg.serial_out, config::SerialOut::Stdout)
        && std::io::IsTerminal::is_terminal(&std::io::stdin());
    let _raw = forward_stdin.then(terminal::RawMode::enter).flatten();
    // `machine` keeps the VM alive until this function returns; the process exits right
    // after, which ends the vCPU threads wherever they are.
    let filters = seccomp::Filters::build()?;
    let mut threads = Vec::new();
    for vcpu in std::mem::take(&mut machine.vcpus) {
        threads.push(vcpu.spawn(filters.as_ref())?);
    }
    let controller = Controller::new(
        &machine,
        listener,
        console_listener,
        forward_stdin,
        threads,
        status,
    )
    .map_err(VmmError::EventFd)?;
    let exit = machine.exit.clone();
    let mut events: EventManager<Controller> =
        EventManager::new().map_err(|e| VmmError::EventLoop(e.to_string()))?;
    events.add_subscriber(controller);
    // Set-up is done: the binary's pages only it used need not stay mapped.
    footprint::drop_startup_pages();
    match &filters {
        Some(f) => {
            f.install(seccomp::Role::Main)?;
            eprintln!("ec2lab vmm: seccomp filters on (vCPU and main threads; EC2LAB_SECCOMP=0 turns them off)");
        }
        None => eprintln!("ec2lab vmm: seccomp filters off (EC2LAB_SECCOMP=0)"),
    }
    if crate::testhook::seccomp_violation_in("main") {
        crate::testhook::forbidden_syscall();
    }
    while exit.get().is_none() {
        events
            .run()
            .map_err(|e| VmmError::EventLoop(e.to_string()))?;
    }
    Ok(exit.get().expect("loop ends only with an outcome"))
}

pub mod terminal {
    //! Raw mode for an interactive console, restored on drop.
    use nix::sys::termios::{self, SetArg, Termios};

    /// The terminal in raw mode; dropping it puts back the settings it had before.
    pub struct RawMode(Termios);

    impl RawMode {
        /// Puts stdin's terminal in raw mode; `None` if stdin is not a terminal.
        pub fn enter() -> Option<Self> {
            let stdin = std::io::stdin();
            let saved = termios::tcgetattr(&stdin).ok()?;
            let mut raw = saved.clone();
            termios::cfmakeraw(&mut raw);
            termios::tcsetattr(&stdin, SetArg::TCSANOW, &raw).ok()?;
            Some(RawMode(saved))
        }
    }

    impl Drop for RawMode {
        fn drop(&mut self) {
            let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, &self.0);
        }
    }
}
