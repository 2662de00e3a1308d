//! A guest that floods its legacy devices cannot grow the VMM: a tiny guest on real KVM
//! writes the i8042's command and data ports (commands that queue answers it never reads)
//! and the serial port in a tight loop, and the VMM's own memory stays flat.
//!
//! What is bounded, and so asserted here: the i8042's output queue (`i8042::OUT_MAX`) and
//! the console's line buffer (fixed size). The console file's own size is not bounded on
//! main yet (its rotation is another change's); this test asserts only that the flood
//! reached it.

mod common;
use common::*;

use std::time::{Duration, Instant};

/// Bytes one loop iteration asks the i8042 to queue for the guest: a byte written to
/// the keyboard buffer (1), four GET_ID commands (ACK + 2 id bytes each: 12), a command
/// byte read (1), a keyboard reset (ACK + self-test OK: 2).
const QUEUED_PER_ITERATION: u64 = 16;
/// Iterations to measure over: with an unbounded queue they would add
/// `QUEUED_PER_ITERATION` x this (at least 480 KiB) to the VMM's heap.
const ITERATIONS: u64 = 30_000;
/// What the VMM's anonymous memory may move meanwhile: allocator and stack noise, far
/// below what an unbounded queue would take.
const GROWTH_BUDGET_KIB: u64 = 128;

/// The guest: each iteration queues i8042 output and prints one byte on the serial port
/// (so the console's size counts iterations), forever.
fn flood() -> Asm {
    let mut body = Asm::new()
        .mov_al(0xd2) // CMD_WRITE_KBD_BUFFER
        .out_port_al(0x64)
        .mov_al(0x41)
        .out_port_al(0x60);
    for _ in 0..4 {
        body = body.mov_al(0xf2).out_port_al(0x60); // keyboard GET_ID
    }
    body = body
        .mov_al(0x20) // CMD_READ_CTR
        .out_port_al(0x64)
        .mov_al(0xff) // keyboard reset
        .out_port_al(0x60)
        .print("f");
    // jmp rel32 back to the start of the body.
    let back = -((body.len() + 5) as i32);
    body.bytes(&[0xe9]).bytes(&back.to_le_bytes())
}

/// Anonymous resident memory (heap, stacks; guest RAM the guest touched) of `pid`, KiB.
fn rss_anon_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("RssAnon in /proc/PID/status")
}

fn console_len(g: &Guest) -> u64 {
    std::fs::metadata(g.path("console"))
        .map(|m| m.len())
        .unwrap_or(0)
}

/// Waits until the console holds at least `bytes` bytes; panics after `secs`.
fn wait_console(g: &Guest, bytes: u64, secs: u64) -> Duration {
    let start = Instant::now();
    while console_len(g) < bytes {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "the flooding guest printed only {} of {bytes} bytes in {secs} s",
            console_len(g)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

#[test]
fn flooding_the_i8042_and_serial_port_keeps_vmm_memory_flat() {
    let g = Guest::new(&flood(), false);
    let mut child = g
        .vmm(&[])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Warm up: the i8042 queue fills to its bound, the console sink's buffers settle.
    let warm = 2_000;
    wait_console(&g, warm, 60);
    let before = rss_anon_kib(pid);
    let took = wait_console(&g, warm + ITERATIONS, 120);
    let after = rss_anon_kib(pid);
    let iterations = console_len(&g) - warm;
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    eprintln!(
        "flood: {iterations} iterations in {:.1} s; RssAnon {before} -> {after} KiB",
        took.as_secs_f64()
    );
    let printed = std::fs::read(g.path("console")).unwrap();
    assert!(
        printed.iter().all(|&b| b == b'f'),
        "the console holds only the guest's bytes"
    );
    assert!(
        after <= before + GROWTH_BUDGET_KIB,
        "the VMM's anonymous memory grew from {before} KiB to {after} KiB over {iterations} \
         iterations (an unbounded i8042 queue would add {} KiB); stderr: {}",
        iterations * QUEUED_PER_ITERATION / 1024,
        stderr(&out)
    );
}
