//! A minimal i8042 keyboard controller: enough for a Linux guest to find a keyboard,
//! to receive Ctrl-Alt-Del (graceful shutdown) and to reset the machine (`reboot=k`).
//!
//! Ports: 0x60 data, 0x64 status (read) / command (write); the bus hands us offsets 0 and 4.

use std::collections::VecDeque;

use vmm_sys_util::eventfd::EventFd;

use super::bus::BusDevice;

const OFF_DATA: u64 = 0;
const OFF_COMMAND: u64 = 4;

const STATUS_OUTPUT_FULL: u8 = 0x01;
const STATUS_SYSTEM_FLAG: u8 = 0x04;
const STATUS_LAST_WAS_COMMAND: u8 = 0x08;
/// Set means the keyboard is *not* inhibited by the key lock.
const STATUS_UNLOCKED: u8 = 0x10;

const CMD_READ_CTR: u8 = 0x20;
const CMD_WRITE_CTR: u8 = 0x60;
const CMD_DISABLE_AUX: u8 = 0xa7;
const CMD_ENABLE_AUX: u8 = 0xa8;
const CMD_TEST_AUX: u8 = 0xa9;
const CMD_SELF_TEST: u8 = 0xaa;
const CMD_TEST_KBD: u8 = 0xab;
const CMD_DISABLE_KBD: u8 = 0xad;
const CMD_ENABLE_KBD: u8 = 0xae;
const CMD_READ_OUTPORT: u8 = 0xd0;
const CMD_WRITE_OUTPORT: u8 = 0xd1;
const CMD_WRITE_KBD_BUFFER: u8 = 0xd2;
const CMD_WRITE_AUX_BUFFER: u8 = 0xd3;
const CMD_WRITE_AUX: u8 = 0xd4;
const CMD_PULSE_RESET: u8 = 0xfe;

const CTR_KBD_INT: u8 = 0x01;
const CTR_SYSTEM_FLAG: u8 = 0x04;
const CTR_KBD_DISABLED: u8 = 0x10;
const CTR_AUX_DISABLED: u8 = 0x20;

const KBD_ACK: u8 = 0xfa;
const KBD_RESET_OK: u8 = 0xaa;
const KBD_CMD_RESET: u8 = 0xff;
const KBD_CMD_GET_ID: u8 = 0xf2;
/// MF2 keyboard id.
const KBD_ID: [u8; 2] = [0xab, 0x83];
const SELF_TEST_OK: u8 = 0x55;

/// Ctrl, Alt, Delete pressed then released, in scan code set 2 (no translation).
pub const CTRL_ALT_DEL: [u8; 11] = [
    0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14,
];

/// What the next write to the data port means.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub enum Pending {
    /// An ordinary data byte (a keyboard command).
    None,
    /// The new command byte.
    Ctr,
    /// The new output port.
    OutPort,
    /// A byte to present as keyboard input.
    KbdBuffer,
    /// A byte to present as mouse input.
    AuxBuffer,
    /// A byte for the (absent) mouse.
    Aux,
}

/// The controller's registers and queued output, as a snapshot keeps them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct I8042State {
    /// The command byte.
    pub ctr: u8,
    /// The status register.
    pub status: u8,
    /// What the next data write means.
    pub pending: Pending,
    /// Bytes waiting for the guest to read.
    pub out: Vec<u8>,
}

/// Bytes the controller holds for the guest to read. A guest that keeps asking (a
/// keyboard command, `CMD_WRITE_KBD_BUFFER`) without reading would otherwise grow the
/// queue without end; beyond this, bytes are dropped, as a real keyboard's buffer
/// overruns. Far more than Linux ever leaves unread (the longest answer is 3 bytes).
pub const OUT_MAX: usize = 64;

/// The keyboard controller: enough of it for Linux to probe it, for Ctrl-Alt-Del and for a reset.
pub struct I8042 {
    ctr: u8,
    status: u8,
    pending: Pending,
    out: VecDeque<u8>,
    irq: EventFd,
    on_reset: Box<dyn Fn() + Send>,
}

impl I8042 {
    /// A controller that raises `irq` for keyboard data and calls `on_reset` when the guest pulses reset.
    pub fn new(irq: EventFd, on_reset: Box<dyn Fn() + Send>) -> Self {
        Self {
            ctr: CTR_KBD_INT | CTR_SYSTEM_FLAG,
            status: STATUS_SYSTEM_FLAG | STATUS_UNLOCKED,
            pending: Pending::None,
            out: VecDeque::with_capacity(32),
            irq,
            on_reset,
        }
    }

    /// The registers and queued output, for a snapshot.
    pub fn state(&self) -> I8042State {
        I8042State {
            ctr: self.ctr,
            status: self.status,
            pending: self.pending,
            out: self.out.iter().copied().collect(),
        }
    }

    /// Puts saved registers and output back (no interrupt: the interrupt controller's
    /// saved state has what was pending).
    pub fn restore(&mut self, s: &I8042State) {
        self.ctr = s.ctr;
        self.status = s.status;
        self.pending = s.pending;
        self.out = s.out.iter().copied().collect();
    }

    /// Queues keyboard bytes (e.g. [`CTRL_ALT_DEL`]) as if typed.
    pub fn type_keys(&mut self, keys: &[u8]) {
        let was_empty = self.out.is_empty();
        let room = OUT_MAX.saturating_sub(self.out.len());
        self.out.extend(keys.iter().take(room));
        if was_empty {
            self.notify();
        }
    }

    fn push(&mut self, byte: u8) {
        let was_empty = self.out.is_empty();
        if self.out.len() >= OUT_MAX {
            return;
        }
        self.out.push_back(byte);
        if was_empty {
            self.notify();
        }
    }

    /// One byte is presented at a time; the interrupt fires when a byte becomes readable.
    fn notify(&mut self) {
        if !self.out.is_empty() && self.ctr & CTR_KBD_INT != 0 {
            // Losing an interrupt only delays input; there is nothing better to do on error.
            let _ = self.irq.write(1);
        }
    }

    fn command(&mut self, cmd: u8) {
        self.status |= STATUS_LAST_WAS_COMMAND;
        match cmd {
            CMD_READ_CTR => self.push(self.ctr),
            CMD_WRITE_CTR => self.pending = Pending::Ctr,
            CMD_DISABLE_AUX => self.ctr |= CTR_AUX_DISABLED,
            CMD_ENABLE_AUX => self.ctr &= !CTR_AUX_DISABLED,
            // No mouse port: a non-zero answer makes the kernel skip it.
            CMD_TEST_AUX => self.push(0xff),
            CMD_SELF_TEST => self.push(SELF_TEST_OK),
            CMD_TEST_KBD => self.push(0x00),
            CMD_DISABLE_KBD => self.ctr |= CTR_KBD_DISABLED,
            CMD_ENABLE_KBD => self.ctr &= !CTR_KBD_DISABLED,
            CMD_READ_OUTPORT => self.push(0x01),
            CMD_WRITE_OUTPORT => self.pending = Pending::OutPort,
            CMD_WRITE_KBD_BUFFER => self.pending = Pending::KbdBuffer,
            CMD_WRITE_AUX_BUFFER => self.pending = Pending::AuxBuffer,
            CMD_WRITE_AUX => self.pending = Pending::Aux,
            CMD_PULSE_RESET => (self.on_reset)(),
            _ => {}
        }
    }

    fn data(&mut self, byte: u8) {
        self.status &= !STATUS_LAST_WAS_COMMAND;
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::Ctr => self.ctr = byte,
            // Bit 0 of the output port is the CPU reset line (active low).
            Pending::OutPort if byte & 1 == 0 => (self.on_reset)(),
            Pending::OutPort => {}
            Pending::KbdBuffer => self.push(byte),
            // Nothing is behind the mouse port: swallow loopback and commands so the
            // kernel's probe times out and decides there is no mouse.
            Pending::AuxBuffer | Pending::Aux => {}
            Pending::None => self.keyboard_command(byte),
        }
    }

    fn keyboard_command(&mut self, byte: u8) {
        self.push(KBD_ACK);
        match byte {
            KBD_CMD_RESET => self.push(KBD_RESET_OK),
            KBD_CMD_GET_ID => KBD_ID.iter().for_each(|b| self.push(*b)),
            _ => {}
        }
    }
}

impl BusDevice for I8042 {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let value = match offset {
            OFF_DATA => {
                let v = self.out.pop_front().unwrap_or(0);
                self.notify();
                v
            }
            OFF_COMMAND => {
                let full = if self.out.is_empty() {
                    0
                } else {
                    STATUS_OUTPUT_FULL
                };
                self.status | full
            }
            _ => 0xff,
        };
        data.fill(0);
        if let Some(first) = data.first_mut() {
            *first = value;
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let Some(&byte) = data.first() else { return };
        match offset {
            OFF_DATA => self.data(byte),
            OFF_COMMAND => self.command(byte),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn dev() -> (I8042, Arc<AtomicUsize>) {
        let resets = Arc::new(AtomicUsize::new(0));
        let r = resets.clone();
        let d = I8042::new(
            EventFd::new(libc::EFD_NONBLOCK).unwrap(),
            Box::new(move || {
                r.fetch_add(1, Ordering::SeqCst);
            }),
        );
        (d, resets)
    }

    fn rd(d: &mut I8042, off: u64) -> u8 {
        let mut b = [0u8];
        d.read(off, &mut b);
        b[0]
    }

    #[test]
    fn probe_sequence_answers_like_a_controller() {
        let (mut d, _) = dev();
        d.write(OFF_COMMAND, &[CMD_SELF_TEST]);
        assert_eq!(rd(&mut d, OFF_COMMAND) & STATUS_OUTPUT_FULL, 1);
        assert_eq!(rd(&mut d, OFF_DATA), SELF_TEST_OK);
        assert_eq!(rd(&mut d, OFF_COMMAND) & STATUS_OUTPUT_FULL, 0);
        d.write(OFF_COMMAND, &[CMD_WRITE_CTR]);
        d.write(OFF_DATA, &[0x47]);
        d.write(OFF_COMMAND, &[CMD_READ_CTR]);
        assert_eq!(rd(&mut d, OFF_DATA), 0x47);
        d.write(OFF_DATA, &[KBD_CMD_GET_ID]);
        assert_eq!(
            [
                rd(&mut d, OFF_DATA),
                rd(&mut d, OFF_DATA),
                rd(&mut d, OFF_DATA)
            ],
            [KBD_ACK, 0xab, 0x83]
        );
    }

    #[test]
    fn reset_pulse_and_outport_reset_call_back() {
        let (mut d, resets) = dev();
        d.write(OFF_COMMAND, &[CMD_PULSE_RESET]);
        d.write(OFF_COMMAND, &[CMD_WRITE_OUTPORT]);
        d.write(OFF_DATA, &[0x00]);
        assert_eq!(resets.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn typed_keys_raise_an_interrupt_per_byte() {
        let (mut d, _) = dev();
        d.type_keys(&CTRL_ALT_DEL);
        assert_eq!(d.irq.read().unwrap(), 1);
        let mut got = Vec::new();
        while rd(&mut d, OFF_COMMAND) & STATUS_OUTPUT_FULL != 0 {
            got.push(rd(&mut d, OFF_DATA));
        }
        assert_eq!(got, CTRL_ALT_DEL);
        // One interrupt after each read that left another byte waiting.
        assert_eq!(d.irq.read().unwrap(), CTRL_ALT_DEL.len() as u64 - 1);
    }

    #[test]
    fn a_guest_that_never_reads_cannot_grow_the_queue() {
        let (mut d, _) = dev();
        for i in 0..100_000u32 {
            d.write(OFF_COMMAND, &[CMD_WRITE_KBD_BUFFER]);
            d.write(OFF_DATA, &[i as u8]);
            d.write(OFF_DATA, &[KBD_CMD_GET_ID]);
        }
        d.type_keys(&[0x1c; 1000]);
        assert_eq!(d.out.len(), OUT_MAX);
        // The oldest bytes are kept, in order, and reading drains the queue.
        assert_eq!(rd(&mut d, OFF_DATA), 0);
        assert_eq!(rd(&mut d, OFF_DATA), KBD_ACK);
        let mut n = 2;
        while rd(&mut d, OFF_COMMAND) & STATUS_OUTPUT_FULL != 0 {
            rd(&mut d, OFF_DATA);
            n += 1;
        }
        assert_eq!(n, OUT_MAX);
    }
}
