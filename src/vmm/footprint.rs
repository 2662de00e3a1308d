//! The VMM's own memory: once the guest runs, it should keep mapped only what it uses.
//!
//! `ec2lab` is one binary for the control plane and the VMM. Setting a guest up (command
//! line, kernel loading, device set-up) runs code and reads constants spread all over
//! it, and every page fault on a file mapping maps its neighbours too (fault-around: 64
//! KiB, or a whole large folio, up to hundreds of KiB, on kernels that cache files in
//! large folios). Left alone, megabytes of the binary's code stay mapped in every VMM for
//! the guest's whole life, though the running VMM only needs its vCPU loop, devices and
//! control socket. The same holds, on a smaller scale, for the C library and the dynamic
//! loader, whose start-up code and relocation work the running VMM no longer needs.

/// Unmaps the read-only segments (code and constants) of this binary and the shared
/// objects it loaded, once set-up is done; the running VMM faults back, from the page
/// cache every process shares, only the pages it touches from then on. The pages stay in
/// the page cache: what drops is what this process maps (its Rss and Pss).
///
/// Only segments that are never written are dropped (no `PF_W`, in objects without text
/// relocations: for those the mapping holds nothing but the file's pages, and
/// `MADV_DONTNEED` costs at most a minor fault per page touched again). Writable ones
/// (relocated `.data.rel.ro`, `.data`, `.bss`) and the kernel's vDSO are left alone.
pub fn drop_startup_pages() {
    // SAFETY: the callback only reads the program headers dl_iterate_phdr hands it and
    // calls madvise on read-only file segments (see `drop_read_only_segments`).
    unsafe { libc::dl_iterate_phdr(Some(drop_read_only_segments), std::ptr::null_mut()) };
}

/// dl_iterate_phdr's callback, once per loaded object (the program first).
unsafe extern "C" fn drop_read_only_segments(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    _data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: dl_iterate_phdr passes a valid dl_phdr_info whose dlpi_phdr points to
    // dlpi_phnum program headers, valid for the duration of the callback.
    let (base, headers) = unsafe {
        let info = &*info;
        (
            info.dlpi_addr as usize,
            std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize),
        )
    };
    // SAFETY: getauxval has no preconditions.
    let vdso = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } as usize;
    // The vDSO is the kernel's mapping, not a file's: its ELF header is at its load bias.
    if vdso != 0 && headers.iter().any(|ph| base + ph.p_vaddr as usize == vdso) {
        return 0;
    }
    // SAFETY: as above; `base` is the object's load bias.
    if unsafe { has_text_relocations(base, headers) } {
        return 0;
    }
    let page = page_size();
    for ph in headers {
        if ph.p_type != libc::PT_LOAD || ph.p_flags & libc::PF_W != 0 {
            continue;
        }
        let start = (base + ph.p_vaddr as usize) & !(page - 1);
        let end = (base + (ph.p_vaddr + ph.p_memsz) as usize).next_multiple_of(page);
        // SAFETY: [start, end) is exactly the pages of one read-only PT_LOAD segment of a
        // loaded object (segments never share a page); nothing wrote them (no text
        // relocations), so dropping the mapping's pages loses nothing: the next access
        // maps the file's page again.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
    0 // go on with the next object
}

/// Does the object have text relocations (`DT_TEXTREL`, or `DF_TEXTREL` in `DT_FLAGS`)?
/// Then the loader wrote into its read-only segments, and they must stay as they are.
///
/// # Safety
/// `base` and `headers` must be a loaded object's load bias and program headers.
unsafe fn has_text_relocations(base: usize, headers: &[libc::Elf64_Phdr]) -> bool {
    const DT_NULL: i64 = 0;
    const DT_TEXTREL: i64 = 22;
    const DT_FLAGS: i64 = 30;
    const DF_TEXTREL: u64 = 0x4;
    let Some(dynamic) = headers.iter().find(|ph| ph.p_type == libc::PT_DYNAMIC) else {
        return false; // a static object: nothing relocated its text
    };
    let mut entry = (base + dynamic.p_vaddr as usize) as *const [u64; 2];
    loop {
        // SAFETY: PT_DYNAMIC of a loaded object points to its mapped dynamic section, an
        // array of (tag, value) pairs ended by DT_NULL.
        let [tag, value] = unsafe { *entry };
        match tag as i64 {
            DT_NULL => return false,
            DT_TEXTREL => return true,
            DT_FLAGS if value & DF_TEXTREL != 0 => return true,
            _ => {}
        }
        // SAFETY: still inside the array: DT_NULL has not been reached.
        entry = unsafe { entry.add(1) };
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}
