//! Starting an instance's VMM, the supervisor's part that needs nothing of its state
//! machine: the run directory made ready (the VMM's own directory and jail, the boot's
//! first console lines), the launch description, and the spawn itself.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::cgroup;
use super::console;
use super::jail;
use super::network;
use super::process;
use super::record::Instance;
use super::rundir::RunDir;
use crate::error::Ec2Error;
use crate::store::Store;
use crate::vmm::config::{SerialOut, VmConfig};
use crate::vmm::jail::JailConfig;

/// Makes the run directory ready for `inst`'s next VMM: its `vmm/` directory and jail
/// (unless `EC2LAB_JAIL=0`), no previous VMM's sockets or exit record, and the console
/// log's first lines for this start (the boot line, or a resume's note, and the
/// instance's warnings). Returns the jail and, for a hibernated instance, its saved machine.
pub fn prepare(
    store: &Store,
    run: &RunDir,
    inst: &Instance,
) -> Result<(Option<JailConfig>, Option<PathBuf>), Ec2Error> {
    let id = &inst.instance_id;
    // First: the console lines below go into the directory this makes.
    let uid = jail::enabled().then(|| jail::uid_of(store.root(), id));
    let jailed = jail::prepare(run, uid).map_err(|e| {
        Ec2Error::internal(format!(
            "cannot prepare the VMM's directories in {}: {e}",
            run.0.display()
        ))
    })?;
    let _ = std::fs::remove_file(run.exit_file());
    let _ = std::fs::remove_file(run.sock());
    let _ = std::fs::remove_file(run.console_sock());
    // Before the VMM exists, so that no reader takes the previous boot's lines for this
    // one's. A log that cannot be written fails the VMM too, with its own message.
    let resume = super::hibernation::saved(store, inst);
    if resume.is_some() {
        console::note(
            &run.console(),
            &["ec2lab: resuming from hibernation".to_string()],
        );
    } else if let Err(e) = console::begin_boot(&run.console(), inst.boots + 1, id) {
        eprintln!("ec2lab supervisor: {}", crate::causes::chain(&e));
    }
    let warnings: Vec<String> = inst
        .warnings
        .iter()
        .map(|w| format!("ec2lab: warning: {w}"))
        .collect();
    console::note(&run.console(), &warnings);
    Ok((jailed, resume))
}

/// The launch description of an instance's next VMM: its run directory's kernel, its
/// disks (`disks`) and interfaces (`network`, plumbed on the host by now), its type's
/// vCPUs and memory, and the run directory's sockets, console log and exit file.
pub fn launch_config(
    run: &RunDir,
    inst: &Instance,
    disks: Vec<crate::vmm::config::DiskConfig>,
    nics: network::GuestNics,
) -> VmConfig {
    VmConfig {
        initrd: run.initrd(),
        append: nics.switches,
        vcpus: inst.vcpus,
        mem_mib: inst.mem_mib,
        disks,
        nets: nics.nets,
        serial_out: SerialOut::File(run.console()),
        api_sock: Some(run.sock()),
        console_sock: Some(run.console_sock()),
        exit_file: Some(run.exit_file()),
        ..VmConfig::new(run.kernel())
    }
}

/// Starts `exe vmm --launch <run>/launch.json` for `inst` in its cgroup, born into a PID
/// namespace of its own when `config` jails it; returns its host pid and start ticks.
pub fn spawn(
    store: &Store,
    run: &RunDir,
    exe: &Path,
    inst: &Instance,
    config: &VmConfig,
) -> Result<(i64, i64), Ec2Error> {
    crate::vmm::console_log::rotate_if_over(&run.vmm_log(), super::rundir::LOG_MAX);
    let procs = cgroup::for_vmm(store, inst)
        .map(|g| g.procs_files())
        .unwrap_or_default();
    let launch = run.launch_file();
    let args = ["vmm".as_ref(), "--launch".as_ref(), launch.as_os_str()];
    Ok(if config.jail.is_some() {
        process::spawn_in_pid_ns(exe, &args, &run.vmm_log(), &procs)?
    } else {
        let mut cmd = Command::new(exe);
        cmd.args(args);
        process::spawn_detached_in(cmd, &run.vmm_log(), &procs)?
    })
}
