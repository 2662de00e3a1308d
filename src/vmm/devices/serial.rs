//! The 8250/16550 UART at 0x3f8: the guest console.
//!
//! vm-superio models the register file; this wraps it for the bus and feeds its
//! interrupt into an irqfd.

use std::io::Write;

use serde::{Deserialize, Serialize};
use vm_superio::serial::SerialState;
use vm_superio::{Serial as Uart, Trigger};
use vmm_sys_util::eventfd::EventFd;

use super::bus::BusDevice;

/// IER bit 0: interrupt on received data.
const IER_RDA: u8 = 0x01;

/// An irqfd-backed interrupt line for vm-superio.
pub struct IrqTrigger(pub EventFd);

impl Trigger for IrqTrigger {
    type E = std::io::Error;
    fn trigger(&self) -> std::io::Result<()> {
        self.0.write(1)
    }
}

/// A UART's registers and unread input, as a snapshot keeps them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UartState {
    /// DLL, DLM, IER, IIR, LCR, LSR, MCR, MSR, SCR.
    pub regs: [u8; 9],
    /// Input the guest has not read yet.
    pub in_buffer: Vec<u8>,
}

/// A saved UART that cannot be put back.
#[derive(Debug, thiserror::Error)]
#[error("the saved UART holds {0} unread input bytes, more than its FIFO")]
pub struct UartStateError(pub usize);

/// The console UART, writing the guest's output to `W`.
pub struct Serial<W: Write + Send> {
    uart: Uart<IrqTrigger, vm_superio::serial::NoEvents, W>,
}

impl<W: Write + Send> Serial<W> {
    /// A UART whose interrupts go to `irq` and whose output goes to `out`.
    pub fn new(irq: EventFd, out: W) -> Self {
        Self {
            uart: Uart::new(IrqTrigger(irq), out),
        }
    }

    /// A UART with the registers and receive FIFO of a saved one.
    pub fn from_state(state: &UartState, irq: EventFd, out: W) -> Result<Self, UartStateError> {
        let s = SerialState {
            baud_divisor_low: state.regs[0],
            baud_divisor_high: state.regs[1],
            interrupt_enable: state.regs[2],
            interrupt_identification: state.regs[3],
            line_control: state.regs[4],
            line_status: state.regs[5],
            modem_control: state.regs[6],
            modem_status: state.regs[7],
            scratch: state.regs[8],
            in_buffer: state.in_buffer.clone(),
        };
        let uart = Uart::from_state(&s, IrqTrigger(irq), vm_superio::serial::NoEvents, out)
            .map_err(|_| UartStateError(state.in_buffer.len()))?;
        Ok(Self { uart })
    }

    /// The registers and unread input, for a snapshot.
    pub fn state(&self) -> UartState {
        let s = self.uart.state();
        UartState {
            regs: [
                s.baud_divisor_low,
                s.baud_divisor_high,
                s.interrupt_enable,
                s.interrupt_identification,
                s.line_control,
                s.line_status,
                s.modem_control,
                s.modem_status,
                s.scratch,
            ],
            in_buffer: s.in_buffer,
        }
    }

    /// Bytes typed on the host side, for the guest to read. Returns how many fit in the FIFO.
    pub fn enqueue_input(&mut self, bytes: &[u8]) -> usize {
        let room = self.uart.fifo_capacity();
        let n = bytes.len().min(room);
        // An error here means the FIFO is full or the IRQ could not be sent; the caller
        // retries with what was not taken.
        self.uart.enqueue_raw_bytes(&bytes[..n]).unwrap_or_default()
    }

    /// Input bytes in the FIFO that the guest has not read yet.
    pub fn unread(&self) -> usize {
        self.uart.state().in_buffer.len()
    }

    /// Raises the receive interrupt again for input the guest has not read, if it has the
    /// receive interrupt enabled. A 16550 keeps its interrupt asserted while data waits;
    /// an edge the guest missed (an irqfd edge racing a vCPU that has not run yet) would
    /// otherwise leave that input unread for good. Returns whether it raised it.
    pub fn kick(&self) -> bool {
        let s = self.uart.state();
        if s.in_buffer.is_empty() || s.interrupt_enable & IER_RDA == 0 {
            return false;
        }
        self.uart.interrupt_evt().trigger().is_ok()
    }

    /// Where the output goes, e.g. to attach a console client.
    pub fn writer_mut(&mut self) -> &mut W {
        self.uart.writer_mut()
    }
}

impl<W: Write + Send> BusDevice for Serial<W> {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        data.fill(0);
        if let (Some(first), Ok(off)) = (data.first_mut(), u8::try_from(offset)) {
            *first = self.uart.read(off);
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        if let (Some(&byte), Ok(off)) = (data.first(), u8::try_from(offset)) {
            // A failing console writer must not stop the guest.
            let _ = self.uart.write(off, byte);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unread_input_raises_its_interrupt_again_only_when_enabled() {
        let irq = EventFd::new(libc::EFD_NONBLOCK).unwrap();
        let mut s = Serial::new(irq.try_clone().unwrap(), Vec::new());
        s.enqueue_input(b"id");
        assert_eq!(s.unread(), 2);
        assert!(!s.kick(), "the receive interrupt is off");
        s.write(1, &[IER_RDA]); // IER: received-data interrupt on
        while irq.read().is_ok() {}
        assert!(s.kick());
        assert_eq!(irq.read().unwrap(), 1, "the interrupt was raised again");
        let mut b = [0u8];
        s.read(0, &mut b);
        s.read(0, &mut b);
        assert_eq!(s.unread(), 0);
        assert!(!s.kick(), "nothing left to read");
    }

    #[test]
    fn transmitted_bytes_reach_the_writer_and_input_is_readable() {
        let irq = EventFd::new(libc::EFD_NONBLOCK).unwrap();
        let mut s = Serial::new(irq.try_clone().unwrap(), Vec::new());
        for b in b"hi\n" {
            s.write(0, &[*b]);
        }
        assert_eq!(s.writer_mut().as_slice(), b"hi\n");
        // Enable the "data available" interrupt, then feed input.
        s.write(1, &[0x01]);
        assert_eq!(s.enqueue_input(b"ok"), 2);
        assert!(irq.read().unwrap() >= 1);
        let mut b = [0u8];
        s.read(0, &mut b);
        assert_eq!(b[0], b'o');
    }
}
