//! Tiny guests for fast tests: a few instructions, assembled here byte by byte and
//! wrapped in an ELF file that `ec2lab vmm --kernel` boots for real on KVM.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where tiny guests are loaded (the VMM loads kernels at or above 1 MiB).
pub const LOAD_ADDR: u64 = 0x10_0000;

/// Minimal x86 assembler: just the instructions the tiny guests use. Encodings are the
/// same in 32-bit protected mode and 64-bit mode unless noted.
#[derive(Default, Clone)]
pub struct Asm {
    pub code: Vec<u8>,
}

impl Asm {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.code.extend_from_slice(b);
        self
    }
    /// mov dx, imm16
    pub fn mov_dx(self, v: u16) -> Self {
        let [a, b] = v.to_le_bytes();
        self.bytes(&[0x66, 0xba, a, b])
    }
    /// mov al, imm8
    pub fn mov_al(self, v: u8) -> Self {
        self.bytes(&[0xb0, v])
    }
    /// out dx, al
    pub fn out_dx_al(self) -> Self {
        self.bytes(&[0xee])
    }
    /// in al, dx
    pub fn in_al_dx(self) -> Self {
        self.bytes(&[0xec])
    }
    /// out imm8, al
    pub fn out_port_al(self, port: u8) -> Self {
        self.bytes(&[0xe6, port])
    }
    /// in al, imm8
    pub fn in_al_port(self, port: u8) -> Self {
        self.bytes(&[0xe4, port])
    }
    /// mov eax, imm32
    pub fn mov_eax(self, v: u32) -> Self {
        self.bytes(&[0xb8]).bytes(&v.to_le_bytes())
    }
    /// mov ebx, imm32 (32-bit mode; in 64-bit mode it zero-extends into rbx)
    pub fn mov_ebx(self, v: u32) -> Self {
        self.bytes(&[0xbb]).bytes(&v.to_le_bytes())
    }
    /// mov [ebx/rbx], eax
    pub fn store_eax_at_ebx(self) -> Self {
        self.bytes(&[0x89, 0x03])
    }
    /// mov eax, [ebx/rbx]
    pub fn load_eax_from_ebx(self) -> Self {
        self.bytes(&[0x8b, 0x03])
    }
    /// Prints `text` on the serial port at 0x3f8.
    pub fn print(mut self, text: &str) -> Self {
        self = self.mov_dx(0x3f8);
        for b in text.bytes() {
            self = self.mov_al(b).out_dx_al();
        }
        self
    }
    /// Pulses the i8042 reset line: the guest's way to reboot.
    pub fn reset(self) -> Self {
        self.mov_al(0xfe).out_port_al(0x64)
    }
    /// cli; hlt; jmp back to hlt: stops for good without using a host core.
    pub fn halt_forever(self) -> Self {
        self.bytes(&[0xfa, 0xf4, 0xeb, 0xfd])
    }
    pub fn ud2(self) -> Self {
        self.bytes(&[0x0f, 0x0b])
    }
    pub fn len(&self) -> usize {
        self.code.len()
    }
}

/// A loadable ELF64 image: one PT_LOAD at `LOAD_ADDR` holding `code`, entered at its first
/// byte; with `pvh`, a Xen PVH note makes the VMM use the 32-bit PVH entry instead.
pub fn elf(code: &[u8], pvh: bool) -> Vec<u8> {
    const EHDR: usize = 64;
    const PHDR: usize = 56;
    let phnum: u16 = if pvh { 2 } else { 1 };
    let note_off = EHDR + PHDR * phnum as usize;
    // Xen note: namesz=4 "Xen\0", descsz=4, type XEN_ELFNOTE_PHYS32_ENTRY (18).
    let mut note = Vec::new();
    note.extend_from_slice(&4u32.to_le_bytes());
    note.extend_from_slice(&4u32.to_le_bytes());
    note.extend_from_slice(&18u32.to_le_bytes());
    note.extend_from_slice(b"Xen\0");
    note.extend_from_slice(&(LOAD_ADDR as u32).to_le_bytes());
    let code_off: usize = 0x1000;

    let mut f = vec![0u8; code_off];
    f[0..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // 64-bit
    f[5] = 1; // little endian
    f[6] = 1; // version
    f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[24..32].copy_from_slice(&LOAD_ADDR.to_le_bytes()); // e_entry
    f[32..40].copy_from_slice(&(EHDR as u64).to_le_bytes()); // e_phoff
    f[52..54].copy_from_slice(&(EHDR as u16).to_le_bytes());
    f[54..56].copy_from_slice(&(PHDR as u16).to_le_bytes());
    f[56..58].copy_from_slice(&phnum.to_le_bytes());

    let mut ph = |i: usize, typ: u32, off: u64, addr: u64, size: u64, align: u64| {
        let p = EHDR + i * PHDR;
        f[p..p + 4].copy_from_slice(&typ.to_le_bytes());
        f[p + 4..p + 8].copy_from_slice(&7u32.to_le_bytes()); // RWX
        f[p + 8..p + 16].copy_from_slice(&off.to_le_bytes());
        f[p + 16..p + 24].copy_from_slice(&addr.to_le_bytes());
        f[p + 24..p + 32].copy_from_slice(&addr.to_le_bytes());
        f[p + 32..p + 40].copy_from_slice(&size.to_le_bytes());
        f[p + 40..p + 48].copy_from_slice(&size.to_le_bytes());
        f[p + 48..p + 56].copy_from_slice(&align.to_le_bytes());
    };
    ph(0, 1, code_off as u64, LOAD_ADDR, code.len() as u64, 0x1000);
    if pvh {
        ph(1, 4, note_off as u64, 0, note.len() as u64, 4);
    }
    f[note_off..note_off + note.len()].copy_from_slice(&note);
    f.extend_from_slice(code);
    f
}

pub fn ec2lab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ec2lab"))
}

/// A scratch directory with a tiny guest written as `kernel`.
pub struct Guest {
    pub dir: tempfile::TempDir,
}

impl Guest {
    pub fn new(code: &Asm, pvh: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kernel"), elf(&code.code, pvh)).unwrap();
        Guest { dir }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub fn kernel(&self) -> PathBuf {
        self.path("kernel")
    }
    pub fn console(&self) -> String {
        std::fs::read_to_string(self.path("console")).unwrap_or_default()
    }
    /// `ec2lab vmm` on this guest with its console in a file; extra args appended.
    pub fn vmm(&self, extra: &[&str]) -> Command {
        let mut c = ec2lab();
        c.arg("vmm")
            .arg("--kernel")
            .arg(self.kernel())
            .arg("--serial-out")
            .arg(self.path("console"))
            .args(extra);
        c
    }
    pub fn run(&self, extra: &[&str]) -> Output {
        run_with_timeout(self.vmm(extra), 60)
    }
}

/// Runs a command, killing it if it outlives `secs` (a hung VMM must fail the test, not
/// hang it).
pub fn run_with_timeout(mut cmd: Command, secs: u64) -> Output {
    use std::process::Stdio;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let out = child.wait_with_output().unwrap();
        let _ = tx.send(());
        out
    });
    if rx
        .recv_timeout(std::time::Duration::from_secs(secs))
        .is_err()
    {
        // SAFETY: plain kill(2) of our own child.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        let out = waiter.join().unwrap();
        panic!(
            "command timed out after {secs} s; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    waiter.join().unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn wait_for_path(p: &Path, secs: u64) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !p.exists() {
        assert!(
            std::time::Instant::now() < end,
            "{} never appeared",
            p.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
