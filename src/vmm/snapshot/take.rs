//! Taking a snapshot of a running VMM: what the controller holds of the machine to do
//! it, and the steps (pause, read every vCPU on its own thread, read the VM and the
//! devices, write the directory).

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kvm_ioctls::VmFd;

use super::devices::{DeviceSet, DeviceStates};
use super::{save, save_vcpu, save_vm, ArchVcpu, MachineState, SnapshotError};
use crate::vmm::api::SnapshotDone;
use crate::vmm::console::ConsoleSink;
use crate::vmm::devices::i8042::I8042;
use crate::vmm::devices::serial::Serial;
use crate::vmm::machine::{DiskSlots, Machine, NetDevices};
use crate::vmm::memory::GuestMemory;
use crate::vmm::vcpu::PauseGate;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long a parked vCPU thread may take to read its state.
const VCPU_SAVE_TIMEOUT: Duration = Duration::from_secs(10);

/// The parts of a machine a snapshot reads, shared with the running VMM.
pub struct Sources {
    vm: Arc<VmFd>,
    mem: GuestMemory,
    msr_list: Arc<[u32]>,
    guest_cpuid: Vec<u8>,
    device_set: DeviceSet,
    mem_mib: u64,
    vcpus: u8,
    cmdline: String,
    serial: Arc<Mutex<Serial<ConsoleSink>>>,
    i8042: Option<Arc<Mutex<I8042>>>,
    disks: DiskSlots,
    nets: NetDevices,
}

impl Sources {
    /// What `machine` shares for snapshots.
    pub fn of(machine: &Machine) -> Self {
        Sources {
            vm: machine.vm.clone(),
            mem: machine.mem.clone(),
            msr_list: machine.msr_list.clone().into(),
            guest_cpuid: machine.guest_cpuid.clone(),
            device_set: machine.device_set.clone(),
            mem_mib: machine.mem_mib,
            vcpus: machine.vcpu_count,
            cmdline: machine.cmdline.clone(),
            serial: machine.serial.clone(),
            i8042: machine.i8042.clone(),
            disks: machine.disks.clone(),
            nets: machine.nets.clone(),
        }
    }

    /// Pauses the vCPUs (unless paused already), saves the whole VM to `dir`, and leaves
    /// the vCPUs paused; the caller resumes them or ends the VMM. On failure nothing is
    /// at `dir`.
    pub fn take(
        &self,
        pause: &PauseGate,
        threads: &[JoinHandle<()>],
        pause_timeout: Duration,
        dir: &Path,
    ) -> Result<SnapshotDone, SnapshotError> {
        if dir.exists() {
            return Err(SnapshotError::Exists(dir.display().to_string()));
        }
        let started = Instant::now();
        if !pause.pause(threads, pause_timeout) {
            return Err(SnapshotError::Pause(format!(
                "not all stopped within {pause_timeout:?}"
            )));
        }
        let paused = Instant::now();
        let vcpu_states = self.vcpu_states(pause)?;
        let state = MachineState {
            mem_mib: self.mem_mib,
            vcpus: self.vcpus,
            cmdline: self.cmdline.clone(),
            memory: super::memory::regions(&self.mem),
            device_set: self.device_set.clone(),
            devices: self.devices(),
            vm: save_vm(&self.vm)?,
            vcpu_states,
        };
        let manifest = save(dir, &state, &self.mem, &self.guest_cpuid)?;
        Ok(SnapshotDone {
            dir: dir.display().to_string(),
            memory_bytes: manifest.memory_bytes,
            pause_ms: (paused - started).as_millis() as u64,
            save_ms: paused.elapsed().as_millis() as u64,
        })
    }

    /// Each vCPU's state, read by its own (parked) thread.
    fn vcpu_states(&self, pause: &PauseGate) -> Result<Vec<ArchVcpu>, SnapshotError> {
        let (tx, rx) = mpsc::channel();
        for id in 0..self.vcpus {
            let (tx, msrs) = (tx.clone(), self.msr_list.clone());
            pause.run_on(
                id,
                Box::new(move |fd| {
                    let _ = tx.send((id, save_vcpu(fd, id, &msrs)));
                }),
            );
        }
        let mut states: Vec<Option<ArchVcpu>> = (0..self.vcpus).map(|_| None).collect();
        for _ in 0..self.vcpus {
            let (id, state) = rx.recv_timeout(VCPU_SAVE_TIMEOUT).map_err(|_| {
                SnapshotError::Pause(format!(
                    "a vCPU thread did not report its state within {VCPU_SAVE_TIMEOUT:?}"
                ))
            })?;
            states[usize::from(id)] = Some(state?);
        }
        Ok(states.into_iter().flatten().collect())
    }

    fn devices(&self) -> DeviceStates {
        DeviceStates {
            serial: self
                .serial
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .state(),
            i8042: self
                .i8042
                .as_ref()
                .map(|k| k.lock().unwrap_or_else(|e| e.into_inner()).state()),
            disks: lock(&self.disks)
                .iter()
                .map(|d| d.lock().unwrap_or_else(|e| e.into_inner()).save_state())
                .collect(),
            nets: lock(&self.nets)
                .iter()
                .map(|n| n.lock().unwrap_or_else(|e| e.into_inner()).save_state())
                .collect(),
        }
    }
}
