//! Tiny guests for fast tests: a few instructions, assembled here byte by byte and
//! wrapped in an ELF file that `ec2lab vmm --kernel` boots for real on KVM.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod netns;
mod real;
mod vpcs;
#[allow(unused_imports)]
pub use netns::*;
#[allow(unused_imports)]
pub use real::*;
pub use vpcs::*;

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
    /// Starts `ec2lab vmm` with a control socket; returns the child once the socket is up.
    pub fn spawn_with_api(&self, extra: &[&str]) -> (std::process::Child, PathBuf) {
        let sock = self.path("api.sock");
        let mut args = vec!["--api-sock", sock.to_str().unwrap()];
        args.extend_from_slice(extra);
        let child = self
            .vmm(&args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_path(&sock, 20);
        (child, sock)
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

/// An OpenSSH public key line's type and base64, without its comment.
pub fn key_part(line: &str) -> String {
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The public key OpenSSH derives from the private key in `file` (`ssh-keygen -y`), as
/// [`key_part`] gives it.
pub fn openssh_public_key(file: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh-keygen -y: {}", stderr(&out));
    key_part(&String::from_utf8_lossy(&out.stdout))
}

/// Polls `f` every 100 ms until it answers, for at most `secs` seconds.
pub fn wait_until<T>(
    what: impl std::fmt::Display,
    secs: u64,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    use std::time::{Duration, Instant};
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
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

// ---- A tiny virtio-blk driver, for guests that use a disk (32-bit PVH mode) ----

pub const MMIO: u32 = 0xd000_0000;
pub const DESC: u32 = 0x30000;
pub const AVAIL: u32 = 0x31000;
pub const USED: u32 = 0x32000;
pub const HDR_IN: u32 = 0x33000;
pub const DATA_IN: u32 = 0x34000;
pub const STATUS: u32 = 0x35000;
pub const HDR_OUT: u32 = 0x36000;
pub const DATA_OUT: u32 = 0x37000;

pub fn store(a: Asm, addr: u32, value: u32) -> Asm {
    a.bytes(&[0xc7, 0x05])
        .bytes(&addr.to_le_bytes())
        .bytes(&value.to_le_bytes())
}

pub fn reg(a: Asm, off: u32, value: u32) -> Asm {
    store(a, MMIO + off, value)
}

/// One split-ring descriptor: addr, len, flags, next.
pub fn desc(a: Asm, i: u32, addr: u32, len: u32, flags: u16, next: u16) -> Asm {
    let d = DESC + 16 * i;
    let a = store(a, d, addr);
    let a = store(a, d + 4, 0);
    let a = store(a, d + 8, len);
    store(a, d + 12, u32::from(flags) | (u32::from(next) << 16))
}

/// Prints `n` bytes from guest memory at `addr`: mov esi; mov ecx; mov dx; lodsb; out; loop
pub fn print_mem(a: Asm, addr: u32, n: u32) -> Asm {
    a.bytes(&[0xbe])
        .bytes(&addr.to_le_bytes())
        .bytes(&[0xb9])
        .bytes(&n.to_le_bytes())
        .mov_dx(0x3f8)
        .bytes(&[0xac, 0xee, 0xe2, 0xfc])
}

pub const NEXT: u16 = 1;
pub const WRITE: u16 = 2;

/// Negotiates VERSION_1 and sets up queue 0 (8 entries, rings at `desc`/`avail`/`used`)
/// of the virtio device whose registers are at `base`, then sets DRIVER_OK.
pub fn virtio_init_at(mut a: Asm, base: u32, desc: u32, avail: u32, used: u32) -> Asm {
    for (off, v) in [
        (0x70, 1), // ACKNOWLEDGE
        (0x70, 3), // DRIVER
        (0x24, 1), // DriverFeaturesSel = 1
        (0x20, 1), // VIRTIO_F_VERSION_1 (bit 32)
        (0x24, 0),
        (0x20, 0),
        (0x70, 0xb), // FEATURES_OK
        (0x30, 0),   // QueueSel
        (0x38, 8),   // QueueNum
        (0x80, desc),
        (0x84, 0),
        (0x90, avail),
        (0x94, 0),
        (0xa0, used),
        (0xa4, 0),
        (0x44, 1),   // QueueReady
        (0x70, 0xf), // DRIVER_OK
    ] {
        a = store(a, base + off, v);
    }
    a
}

/// [`virtio_init_at`] for the device in slot 0 with the default rings.
pub fn virtio_init(a: Asm) -> Asm {
    virtio_init_at(a, MMIO, DESC, AVAIL, USED)
}

/// Queues one request (header, 512-byte buffer, status) as chain `first..first+2` in
/// avail slot `slot`, and notifies. The device handles it before the notify returns.
pub fn blk_request(
    mut a: Asm,
    first: u32,
    slot: u32,
    hdr: u32,
    kind: u32,
    sector: u32,
    buf: u32,
) -> Asm {
    a = store(a, hdr, kind);
    a = store(a, hdr + 4, 0);
    a = store(a, hdr + 8, sector);
    a = store(a, hdr + 12, 0);
    let data_flags = if kind == 0 { NEXT | WRITE } else { NEXT };
    a = desc(a, first, hdr, 16, NEXT, (first + 1) as u16);
    a = desc(a, first + 1, buf, 512, data_flags, (first + 2) as u16);
    a = desc(a, first + 2, STATUS, 1, WRITE, 0);
    // ring[slot] = first (two u16 per dword), then idx = slot + 1
    let ring = AVAIL + 4 + (slot / 2) * 4;
    let word = if slot.is_multiple_of(2) {
        first
    } else {
        first << 16
    };
    a = store(a, ring, word);
    a = store(a, AVAIL, (slot + 1) << 16);
    reg(a, 0x50, 0)
}

/// What a tiny "OS" does after it has booted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TinyOs {
    /// Halts until stopped from outside.
    StayUp,
    /// Powers itself off right after "init".
    PowerOff,
    /// Also uses its second disk (slot 1: /dev/vdb): prints its first 16 bytes as
    /// `vdb:<bytes>`, writes `DATA-DISK-WRITE!` there, flushes, prints `flushed`, halts.
    DataDisk,
}

/// Where the second disk's rings live (the first disk uses DESC/AVAIL/USED).
const DESC2: u32 = 0x40000;
const AVAIL2: u32 = 0x41000;
const USED2: u32 = 0x42000;
const HDR2: u32 = 0x43000;
const DATA2: u32 = 0x44000;
const SLOT1: u32 = MMIO + 0x1000;

/// Brings up slot 1's driver and does the DataDisk routine on it.
fn data_disk(mut a: Asm) -> Asm {
    a = virtio_init_at(a, SLOT1, DESC2, AVAIL2, USED2);
    // One request per call: header at HDR2, data at DATA2 (unless flush), status at STATUS.
    let request = |mut a: Asm, first: u32, slot: u32, kind: u32| -> Asm {
        a = store(a, HDR2, kind);
        a = store(a, HDR2 + 4, 0);
        a = store(a, HDR2 + 8, 0);
        a = store(a, HDR2 + 12, 0);
        let d = |a: Asm, i: u32, addr: u32, len: u32, flags: u16, next: u16| {
            let base = DESC2 + 16 * i;
            let a = store(a, base, addr);
            let a = store(a, base + 4, 0);
            let a = store(a, base + 8, len);
            store(a, base + 12, u32::from(flags) | (u32::from(next) << 16))
        };
        if kind == 4 {
            a = d(a, first, HDR2, 16, NEXT, (first + 1) as u16);
            a = d(a, first + 1, STATUS, 1, WRITE, 0);
        } else {
            let flags = if kind == 0 { NEXT | WRITE } else { NEXT };
            a = d(a, first, HDR2, 16, NEXT, (first + 1) as u16);
            a = d(a, first + 1, DATA2, 512, flags, (first + 2) as u16);
            a = d(a, first + 2, STATUS, 1, WRITE, 0);
        }
        let ring = AVAIL2 + 4 + (slot / 2) * 4;
        let word = if slot.is_multiple_of(2) {
            first
        } else {
            first << 16
        };
        // Keep the other half of the ring word: slots are filled in order, 0 then 1 then 2.
        let a = if slot.is_multiple_of(2) {
            store(a, ring, word)
        } else {
            // or the low half back in: [ring] |= first << 16
            a.bytes(&[0x81, 0x0d])
                .bytes(&ring.to_le_bytes())
                .bytes(&word.to_le_bytes())
        };
        let a = store(a, AVAIL2, (slot + 1) << 16);
        store(a, SLOT1 + 0x50, 0)
    };
    a = request(a, 0, 0, 0); // read sector 0
    a = a.print("vdb:");
    a = print_mem(a, DATA2, 16);
    a = a.print("\n");
    for (i, w) in b"DATA-DISK-WRITE!".chunks(4).enumerate() {
        a = store(
            a,
            DATA2 + 4 * i as u32,
            u32::from_le_bytes(w.try_into().unwrap()),
        );
    }
    a = request(a, 3, 1, 1); // write sector 0
    a = request(a, 6, 2, 4); // flush
    a.print("flushed\n")
}

/// A tiny operating system for lifecycle tests: it reads sector 0 of its root disk,
/// increments the first byte (a boot counter kept on disk), writes it back, prints
/// `boot N`, prints the kernel's init line (so ec2lab sees it reach init), then halts or
/// powers off. Real KVM, real virtio, milliseconds.
pub fn tiny_os(kind: TinyOs) -> Asm {
    let a = tiny_boot();
    match kind {
        TinyOs::StayUp => a.halt_forever(),
        TinyOs::PowerOff => a.print("reboot: Power down\n").halt_forever(),
        TinyOs::DataDisk => data_disk(a).halt_forever(),
    }
}

/// [`tiny_os`]'s boot, for tiny OSes that go on to do something else: the boot counter on
/// the root disk, `boot N`, the kernel's init line.
pub fn tiny_boot() -> Asm {
    let mut a = virtio_init(Asm::new());
    a = blk_request(a, 0, 0, HDR_IN, 0, 0, DATA_IN);
    // inc byte [DATA_IN]
    a = a.bytes(&[0xfe, 0x05]).bytes(&DATA_IN.to_le_bytes());
    a = blk_request(a, 3, 1, HDR_OUT, 1, 0, DATA_IN);
    a = a.print("boot ");
    a = print_mem(a, DATA_IN, 1);
    a.print("\nRun /init as init process\n")
}

/// A root disk for [`tiny_os`]: the boot counter starts at '0'.
pub fn tiny_root_disk(path: &Path) {
    let mut d = vec![0u8; 4096];
    d[0] = b'0';
    std::fs::write(path, d).unwrap();
}

// ---- The control plane, driven through the ec2lab CLI on a private state directory ----

/// A private ec2lab "cloud": its own state directory, cleaned up (instances killed) on drop.
pub struct Lab {
    pub dir: tempfile::TempDir,
    /// Its default VPC's CIDR (EC2LAB_DEFAULT_VPC_CIDR; empty: AWS's 172.31.0.0/16).
    pub default_vpc: String,
}

pub struct Ec2Out {
    pub code: i32,
    pub json: serde_json::Value,
    pub stdout: String,
    pub stderr: String,
}

impl Lab {
    pub fn new() -> Self {
        Lab {
            dir: tempfile::tempdir().unwrap(),
            default_vpc: next_default_vpc(),
        }
    }

    pub fn state_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = ec2lab();
        c.env("EC2LAB_STATE_DIR", self.dir.path())
            .env_remove("EC2LAB_REGION")
            .env_remove("EC2LAB_OUTPUT")
            // Tiny guests ignore Ctrl-Alt-Del: stop them hard after a second.
            .env("EC2LAB_STOP_TIMEOUT_SECS", "1")
            // A killed VMM's automatic recovery, without a minute's wait.
            .env("EC2LAB_AUTO_RECOVERY_SECS", "3")
            .env("EC2LAB_DEFAULT_VPC_CIDR", &self.default_vpc)
            // Suites make many volumes they never fill on a shared host's disk: only what
            // is written at once must fit (tests/robustness.rs checks the promises).
            .env("EC2LAB_VOLUME_OVERCOMMIT", "1")
            // No quick-start AMI: tests register what they launch.
            .env(
                "EC2LAB_GUEST_IMAGES",
                self.dir.path().join("no-guest-images"),
            )
            // Warm-launch templates of this lab's own AMIs stay in it (RealLab shares the
            // host's: the quick-start AMI's template serves every real-guest test).
            .env("EC2LAB_WARM_CACHE", self.dir.path().join("warm-cache"))
            .args(args);
        c
    }

    pub fn ec2(&self, args: &[&str]) -> Ec2Out {
        let out = run_with_timeout(self.cmd(args), 120);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        Ec2Out {
            code: out.status.code().unwrap_or(-1),
            json: serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null),
            stdout,
            stderr: stderr(&out),
        }
    }

    /// Runs a verb that must succeed; returns its JSON.
    pub fn ok(&self, args: &[&str]) -> serde_json::Value {
        let o = self.ec2(args);
        assert_eq!(
            o.code, 0,
            "ec2lab {args:?} failed: {}{}",
            o.stderr, o.stdout
        );
        o.json
    }

    /// Runs a verb that must fail with EC2 error `code`; returns its message.
    pub fn fails(&self, args: &[&str], code: &str) -> String {
        let o = self.ec2(args);
        assert_eq!(o.code, 254, "{args:?}: {}{}", o.stderr, o.stdout);
        assert!(
            o.stderr.contains(&format!("({code})")),
            "{args:?}: expected {code}, got {}",
            o.stderr
        );
        o.stderr
    }

    /// Registers a tiny-OS AMI (kernel + a 4 KiB root disk with a boot counter).
    pub fn tiny_ami(&self, name: &str, kind: TinyOs) -> String {
        self.tiny_ami_of(name, &tiny_os(kind))
    }

    /// Registers an AMI whose kernel is `code` (start it with [`tiny_boot`]) and whose root
    /// disk is [`tiny_root_disk`].
    pub fn tiny_ami_of(&self, name: &str, code: &Asm) -> String {
        let files = self.dir.path().join(format!("{name}-files"));
        std::fs::create_dir_all(&files).unwrap();
        std::fs::write(files.join("kernel"), elf(&code.code, true)).unwrap();
        tiny_root_disk(&files.join("root.img"));
        let v = self.ok(&[
            "register-image",
            "--name",
            name,
            "--kernel-file",
            files.join("kernel").to_str().unwrap(),
            "--root-image-file",
            files.join("root.img").to_str().unwrap(),
        ]);
        v["ImageId"].as_str().unwrap().to_string()
    }

    pub fn run(&self, ami: &str, extra: &[&str]) -> Vec<String> {
        let mut args = vec!["run-instances", "--image-id", ami];
        args.extend_from_slice(extra);
        let v = self.ok(&args);
        v["Instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["InstanceId"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn describe(&self, id: &str) -> serde_json::Value {
        let v = self.ok(&["describe-instances", "--instance-ids", id]);
        v["Reservations"][0]["Instances"][0].clone()
    }

    pub fn state(&self, id: &str) -> String {
        self.describe(id)["State"]["Name"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn wait(&self, what: &str, id: &str) {
        self.ok(&["wait", what, "--instance-ids", id, "--timeout-secs", "60"]);
    }

    pub fn console(&self, id: &str) -> String {
        self.ok(&["get-console-output", "--instance-id", id])["Output"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.dir.path().join("lab-1/instances").join(id)
    }

    /// A new empty gp2 volume of `size_gib` GiB in lab-1a; its id.
    pub fn create_volume(&self, size_gib: u32) -> String {
        let size = size_gib.to_string();
        let args = [
            "create-volume",
            "--size",
            &size,
            "--availability-zone",
            "lab-1a",
        ];
        self.ok(&args)["VolumeId"].as_str().unwrap().to_string()
    }

    /// Attaches volume `vol` to instance `id` as `/dev/sdf`.
    pub fn attach_sdf(&self, vol: &str, id: &str) {
        let args = [
            "attach-volume",
            "--volume-id",
            vol,
            "--instance-id",
            id,
            "--device",
            "/dev/sdf",
        ];
        self.ok(&args);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Every supervisor and VMM of this lab names the state directory on its command
        // line: end them all so no test leaves guests behind (first, so none of them
        // plumbs the network again), then take the lab's bridges, taps and nftables
        // tables off the host.
        // Twice: a supervisor caught mid-spawn may have started a VMM the first pass missed.
        for _ in 0..2 {
            let _ = Command::new("pkill")
                .arg("-9")
                .arg("-f")
                .arg(self.dir.path())
                .status();
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        for region in std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if region.path().join("ec2lab.db").exists() {
                let name = region.file_name().to_string_lossy().into_owned();
                let _ = run_with_timeout(self.cmd(&["--region", &name, "network-teardown"]), 60);
            }
        }
    }
}

/// guest-images/out: where guest-images/build.sh leaves the real guest images.
pub fn guest_images_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guest-images/out")
}

/// The real guest images' kernel and root disk (guest-images/out/{vmlinux,rootfs.ext4}).
/// Without them a test skips with a note, unless EC2LAB_REQUIRE_IMAGES=1 (CI), where a
/// missing image is a failure.
pub fn real_guest_images() -> Option<(PathBuf, PathBuf)> {
    let out = guest_images_dir();
    let (k, r) = (out.join("vmlinux"), out.join("rootfs.ext4"));
    if k.exists() && r.exists() {
        return Some((k, r));
    }
    if std::env::var("EC2LAB_REQUIRE_IMAGES").as_deref() == Ok("1") {
        panic!(
            "guest images missing in {}: run guest-images/build.sh",
            out.display()
        );
    }
    eprintln!("skipping: guest images missing; run guest-images/build.sh");
    None
}

/// `path` (made if missing), opened to read and write, once this process holds an
/// exclusive flock on it: until the file is closed (or the process dies). Blocks until then.
pub fn locked_file(path: &str) -> std::fs::File {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {path}: {e}"));
    // SAFETY: flock on a file descriptor we own; released when it is closed.
    let rc = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&f), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock {path}: {}", std::io::Error::last_os_error());
    f
}

/// Held while a test runs real Linux guests with the host network: one such test at a
/// time on this host, across test binaries and checkouts (each busy guest takes a whole
/// core here). An flock on a file in /run, released when the guard drops (or the process
/// dies).
pub struct RealGuestLock(#[allow(dead_code)] std::fs::File);

pub fn real_guest_lock() -> RealGuestLock {
    RealGuestLock(locked_file("/run/ec2lab-real-guest-tests.lock"))
}

/// A shell on an instance's serial console, driven line by line.
pub struct Console {
    sock: std::os::unix::net::UnixStream,
    seen: String,
}

impl Console {
    pub fn open(lab: &Lab, id: &str) -> Console {
        // As connect-serial-console does: waits while the VMM is being started, and says
        // clearly why when there is no console (the instance stopped, the VMM never came).
        let store = ec2lab::store::Store::open(lab.state_dir(), "lab-1").unwrap();
        let wait = ec2lab::instances::console::CONNECT_WAIT;
        let sock = ec2lab::instances::console::connect(&store, id, wait)
            .unwrap_or_else(|e| panic!("the serial console of {id}: {e}"));
        sock.set_read_timeout(Some(std::time::Duration::from_millis(300)))
            .unwrap();
        let mut c = Console {
            sock,
            seen: String::new(),
        };
        // Enter activates the shell (busybox askfirst).
        c.run("echo shell-$((1+1))", "shell-2");
        c
    }

    /// Types `cmd` and waits until `expect` appears in what follows. `expect` must not be
    /// part of `cmd`: the shell echoes what is typed.
    pub fn run(&mut self, cmd: &str, expect: &str) -> String {
        assert!(
            !cmd.contains(expect),
            "{expect:?} would match the echo of {cmd:?}"
        );
        self.run_until(cmd, |seen| seen.contains(expect))
    }

    /// Runs `cmd` in the guest's shell; returns its exit status and what the console
    /// showed meanwhile.
    pub fn status(&mut self, cmd: &str) -> (i32, String) {
        // The quotes keep the marker out of the shell's echo of the command.
        let seen = self.run_until(&format!("{cmd}; echo EXIT''STATUS=$?"), |seen| {
            seen.split("EXITSTATUS=")
                .nth(1)
                .is_some_and(|rest| rest.contains('\n'))
        });
        let rest = seen.split("EXITSTATUS=").nth(1).unwrap_or_default();
        let code = rest
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or(-1);
        (code, seen)
    }

    fn run_until(&mut self, cmd: &str, done: impl Fn(&str) -> bool) -> String {
        use std::io::{Read, Write};
        self.seen.clear();
        let end = std::time::Instant::now() + std::time::Duration::from_secs(240);
        let mut next_enter = std::time::Instant::now();
        let mut sent = false;
        loop {
            if !sent && std::time::Instant::now() >= next_enter {
                // Until the shell is up, Enter is what it waits for; then the command.
                if self.seen.contains("# ") || self.seen.contains("activate") {
                    self.sock.write_all(format!("{cmd}\n").as_bytes()).unwrap();
                    sent = true;
                } else {
                    self.sock.write_all(b"\n").unwrap();
                    next_enter = std::time::Instant::now() + std::time::Duration::from_secs(2);
                }
            }
            let mut buf = [0u8; 4096];
            if let Ok(n) = self.sock.read(&mut buf) {
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            if sent && done(&self.seen) {
                return self.seen.clone();
            }
            assert!(
                std::time::Instant::now() < end,
                "{cmd:?}: did not finish; the console showed {:?}",
                self.seen
            );
        }
    }
}

/// Sends `frame` out of interface `ifname` with a raw packet socket: the tap's reader
/// (the VMM) gets exactly this frame.
pub fn send_raw(ifname: &str, frame: &[u8]) {
    let name = std::ffi::CString::new(ifname).unwrap();
    // SAFETY: a NUL-terminated name; if_nametoindex only reads it.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert!(index > 0, "no interface {ifname}");
    // SAFETY: plain socket(2); the fd is closed below.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    assert!(fd >= 0, "{}", std::io::Error::last_os_error());
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value to fill in.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_ifindex = index as i32;
    addr.sll_halen = 6;
    addr.sll_addr[..6].copy_from_slice(&frame[..6]);
    // SAFETY: `frame` and `addr` are valid for the lengths given; fd is ours.
    let n = unsafe {
        libc::sendto(
            fd,
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    let err = std::io::Error::last_os_error();
    // SAFETY: fd is ours and not used after this.
    unsafe { libc::close(fd) };
    assert_eq!(n, frame.len() as isize, "{err}");
}
