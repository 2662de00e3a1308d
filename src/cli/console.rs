//! `ec2lab connect-serial-console`: the instance's serial console on this terminal, like
//! the EC2 serial console. Ctrl-] ends the session (the instance keeps running).

use std::io::{Read, Write};

use clap::Args;
use serde_json::Value;

use super::ctx::{Ctx, Failure};
use crate::error::Ec2Error;
use crate::instances::console;

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab connect-serial-console --instance-id i-0123456789abcdef0\n\n\
  Press Enter for a root shell on the ec2lab Linux image; Ctrl-] leaves. One session at a\n\
  time: a new one takes the console over."
)]
/// Use a running instance's serial console from this terminal.
pub struct ConnectSerialConsole {
    /// The instance whose console to attach to.
    #[arg(long)]
    pub instance_id: String,
}

const ESCAPE: u8 = 0x1d; // Ctrl-]

/// Attaches this terminal to the instance's serial console until Ctrl-] or the VMM ends.
pub fn connect(ctx: &Ctx, a: ConnectSerialConsole) -> Result<Value, Failure> {
    let store = ctx.tidy_store()?;
    // Right after start-instances or a reboot the VMM is still being started: this waits
    // for its socket, as EC2's console works as soon as the instance runs.
    let sock = console::connect(&store, &a.instance_id, console::CONNECT_WAIT)?;
    eprintln!(
        "Connected to {}'s serial console. Ctrl-] leaves.\r",
        a.instance_id
    );
    let _raw = crate::vmm::terminal::RawMode::enter();
    let mut from_vm = sock.try_clone().map_err(Ec2Error::from)?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut out = std::io::stdout();
        while let Ok(n) = from_vm.read(&mut buf) {
            if n == 0 || out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
                break;
            }
        }
    });
    let mut to_vm = sock;
    let mut buf = [0u8; 256];
    let mut stdin = std::io::stdin();
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(i) = buf[..n].iter().position(|b| *b == ESCAPE) {
            let _ = to_vm.write_all(&buf[..i]);
            break;
        }
        if to_vm.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    eprintln!("\r\nDisconnected.\r");
    Ok(Value::Null)
}
