//! `ec2lab connect-serial-console`: the instance's serial console on this terminal, like
//! the EC2 serial console. Ctrl-] ends the session (the instance keeps running).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use clap::Args;
use serde_json::Value;

use super::ec2::{Ctx, Failure};
use crate::error::Ec2Error;
use crate::instances::{record::Instance, state::State, supervisor::RunDir};

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ec2lab connect-serial-console --instance-id i-0123456789abcdef0\n\n\
  Press Enter for a root shell on the ec2lab Linux image; Ctrl-] leaves. One session at a\n\
  time: a new one takes the console over."
)]
/// Use a running instance's serial console from this terminal.
pub struct ConnectSerialConsole {
    #[arg(long)]
    pub instance_id: String,
}

const ESCAPE: u8 = 0x1d; // Ctrl-]

pub fn connect(ctx: &Ctx, a: ConnectSerialConsole) -> Result<Value, Failure> {
    let store = ctx.tidy_store()?;
    let inst = Instance::get(store.conn(), &a.instance_id)?;
    if !matches!(inst.state, State::Running | State::Pending) {
        return Err(
            Ec2Error::incorrect_state(&a.instance_id, inst.state.name(), "connected to").into(),
        );
    }
    let path = RunDir(store.instance_dir(&a.instance_id)).path("console.sock");
    let sock = UnixStream::connect(&path).map_err(|e| {
        Ec2Error::internal(format!(
            "the console of {} is not reachable: {e}",
            a.instance_id
        ))
    })?;
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
