//! The chunk store against real files: snapshots, restores, sharing, collection, damage.

use super::*;
use std::os::unix::fs::MetadataExt;

const MIB: u64 = 1024 * 1024;

/// Deterministic non-zero bytes, different per seed.
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x as u8) | 1
        })
        .collect()
}

fn sparse_volume(path: &Path, size: u64) {
    File::create(path).unwrap().set_len(size).unwrap();
}

fn write_at(path: &Path, offset: u64, data: &[u8]) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(data, offset).unwrap();
}

fn assert_same(a: &Path, b: &Path) {
    let (x, y) = (fs::read(a).unwrap(), fs::read(b).unwrap());
    assert_eq!(x.len(), y.len(), "sizes differ: {a:?} {b:?}");
    assert!(x == y, "contents differ: {a:?} {b:?}");
}

fn disk_bytes(path: &Path) -> u64 {
    fs::metadata(path).unwrap().blocks() * 512
}

fn setup() -> (tempfile::TempDir, ChunkStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path().join("store")).unwrap();
    (dir, store)
}

#[test]
fn incremental_snapshot_stores_only_changes_and_restores_sparse() {
    let (dir, store) = setup();
    let vol = dir.path().join("vol.img");
    sparse_volume(&vol, 64 * MIB);
    write_at(&vol, 0, &pattern(1, MIB as usize));
    write_at(&vol, 20 * MIB, &pattern(2, 2 * MIB as usize));

    let a = store.snapshot(&vol, "snap-a").unwrap();
    assert_eq!(a.volume_size, 64 * MIB);
    assert_eq!(a.chunks, 6);
    assert_eq!(a.bytes_added, 3 * MIB);
    assert_eq!(a.bytes_referenced, 3 * MIB);
    assert_eq!(store.stored_bytes().unwrap(), 3 * MIB);
    let copy_a = dir.path().join("vol-a.img");
    fs::copy(&vol, &copy_a).unwrap();

    write_at(&vol, 20 * MIB + 4096, &pattern(3, 4096));
    let b = store.snapshot(&vol, "snap-b").unwrap();
    assert_eq!(b.chunks, 6);
    assert_eq!(b.bytes_added, CHUNK_SIZE);
    assert_eq!(b.bytes_referenced, 3 * MIB);
    assert_eq!(store.stored_bytes().unwrap(), 3 * MIB + CHUNK_SIZE);

    let out_a = dir.path().join("out-a.img");
    let out_b = dir.path().join("out-b.img");
    assert_eq!(store.restore("snap-a", &out_a).unwrap(), 64 * MIB);
    assert_eq!(store.restore("snap-b", &out_b).unwrap(), 64 * MIB);
    assert_same(&out_a, &copy_a);
    assert_same(&out_b, &vol);
    for out in [&out_a, &out_b] {
        let used = disk_bytes(out);
        assert!(used <= 4 * MIB, "restored volume not sparse: {used} bytes");
    }

    let m = store.manifest("snap-b").unwrap();
    assert_eq!((m.version, m.chunk_size, m.size), (1, CHUNK_SIZE, 64 * MIB));
    let indices: Vec<u64> = m.chunks.iter().map(|c| c.0).collect();
    assert_eq!(indices, [0, 1, 40, 41, 42, 43]);
    assert_eq!(store.snapshots().unwrap(), ["snap-a", "snap-b"]);
}

#[test]
fn manifest_json_has_documented_shape() {
    let (dir, store) = setup();
    let vol = dir.path().join("vol.img");
    sparse_volume(&vol, 2 * MIB);
    write_at(&vol, CHUNK_SIZE, b"x");
    store.snapshot(&vol, "snap-1").unwrap();
    let text = fs::read_to_string(store.root().join("manifests/snap-1.json")).unwrap();
    let hash = ChunkHash::of(&{
        let mut c = vec![0u8; CHUNK_SIZE as usize];
        c[0] = b'x';
        c
    });
    assert_eq!(
        text,
        format!(r#"{{"version":1,"chunk_size":524288,"size":2097152,"chunks":[[1,"{hash}"]]}}"#)
    );
    let hex = hash.to_string();
    assert!(store
        .root()
        .join("chunks")
        .join(&hex[..2])
        .join(&hex)
        .is_file());
}

#[test]
fn deleting_any_snapshot_keeps_the_others_restorable() {
    let (dir, store) = setup();
    let vol = dir.path().join("vol.img");
    sparse_volume(&vol, 16 * MIB);
    write_at(&vol, 0, &pattern(10, 4 * MIB as usize));
    store.snapshot(&vol, "a").unwrap();
    let copy_a = dir.path().join("a.img");
    fs::copy(&vol, &copy_a).unwrap();

    write_at(&vol, MIB, &pattern(11, MIB as usize));
    write_at(&vol, 10 * MIB, &pattern(12, 8192));
    store.snapshot(&vol, "b").unwrap();

    write_at(&vol, MIB + 100, &pattern(13, 300));
    write_at(&vol, 3 * MIB, &vec![0u8; MIB as usize]); // zeroed, not a hole
    let c = store.snapshot(&vol, "c").unwrap();
    assert_eq!(c.chunks, 7);
    let copy_c = dir.path().join("c.img");
    fs::copy(&vol, &copy_c).unwrap();

    let before = store.stored_bytes().unwrap();
    let freed = store.delete("b").unwrap();
    assert!(freed > 0, "b's own chunks should be collected");
    assert_eq!(store.stored_bytes().unwrap(), before - freed);
    assert!(!store.exists("b"));
    let out = dir.path().join("out.img");
    store.restore("a", &out).unwrap();
    assert_same(&out, &copy_a);
    store.restore("c", &out).unwrap();
    assert_same(&out, &copy_c);

    store.delete("a").unwrap();
    store.restore("c", &out).unwrap();
    assert_same(&out, &copy_c);
    assert_eq!(store.stored_bytes().unwrap(), c.bytes_referenced);

    store.delete("c").unwrap();
    assert_eq!(store.stored_bytes().unwrap(), 0);
    assert!(matches!(store.delete("c"), Err(ChunkError::NotFound(_))));
}

#[test]
fn corrupt_chunk_fails_restore_and_leaves_no_file() {
    let (dir, store) = setup();
    let vol = dir.path().join("vol.img");
    sparse_volume(&vol, 4 * MIB);
    write_at(&vol, 2 * MIB, &pattern(20, 4096));
    store.snapshot(&vol, "s").unwrap();
    let (_, hash) = store.manifest("s").unwrap().chunks[0];
    let hex = hash.to_string();
    let chunk = store.root().join("chunks").join(&hex[..2]).join(&hex);
    let mut bytes = fs::read(&chunk).unwrap();
    bytes[100] ^= 0x40;
    fs::write(&chunk, bytes).unwrap();

    let out = dir.path().join("out.img");
    let err = store.restore("s", &out).unwrap_err();
    match &err {
        ChunkError::Corrupt { id, index, hash: h } => {
            assert_eq!((id.as_str(), *index, *h), ("s", 4, hash));
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(err.to_string().contains(&hex));
    assert!(err.to_string().contains("corrupt (sha256 mismatch)"));
    assert!(!out.exists());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2); // store + vol.img only

    fs::remove_file(&chunk).unwrap();
    assert!(matches!(
        store.restore("s", &out),
        Err(ChunkError::MissingChunk { .. })
    ));
}

#[test]
fn size_not_a_chunk_multiple() {
    let (dir, store) = setup();
    let vol = dir.path().join("odd.img");
    let size = 3 * CHUNK_SIZE + 12345;
    sparse_volume(&vol, size);
    write_at(&vol, size - 5000, &pattern(30, 5000));
    write_at(&vol, 10, b"head");
    let s = store.snapshot(&vol, "odd").unwrap();
    assert_eq!(s.chunks, 2);
    assert_eq!(s.bytes_referenced, CHUNK_SIZE + 12345);
    let out = dir.path().join("out.img");
    assert_eq!(store.restore("odd", &out).unwrap(), size);
    assert_same(&out, &vol);

    // A volume smaller than one chunk.
    let tiny = dir.path().join("tiny.img");
    fs::write(&tiny, b"hello").unwrap();
    assert_eq!(store.snapshot(&tiny, "tiny").unwrap().bytes_added, 5);
    store.restore("tiny", &out).unwrap();
    assert_eq!(fs::read(&out).unwrap(), b"hello");
}

#[test]
fn empty_and_all_zero_volumes() {
    let (dir, store) = setup();
    let empty = dir.path().join("empty.img");
    fs::write(&empty, b"").unwrap();
    let s = store.snapshot(&empty, "empty").unwrap();
    assert_eq!(s, SnapshotStats::default());
    let out = dir.path().join("out.img");
    fs::write(&out, b"old contents are replaced").unwrap();
    assert_eq!(store.restore("empty", &out).unwrap(), 0);
    assert_eq!(fs::metadata(&out).unwrap().len(), 0);

    // Written zeros (allocated, not holes) are omitted as well.
    let zeros = dir.path().join("zeros.img");
    fs::write(&zeros, vec![0u8; 3 * MIB as usize]).unwrap();
    let s = store.snapshot(&zeros, "zeros").unwrap();
    assert_eq!((s.volume_size, s.chunks, s.bytes_added), (3 * MIB, 0, 0));
    store.restore("zeros", &out).unwrap();
    assert_same(&out, &zeros);
    assert_eq!(disk_bytes(&out), 0);
    assert_eq!(store.stored_bytes().unwrap(), 0);
}

#[test]
fn huge_sparse_volume_is_snapshotted_by_its_data_only() {
    let (dir, store) = setup();
    let vol = dir.path().join("big.img");
    sparse_volume(&vol, 64 * 1024 * MIB);
    write_at(&vol, 40 * 1024 * MIB - 10, &pattern(40, 20)); // straddles two chunks
    let s = store.snapshot(&vol, "big").unwrap();
    assert_eq!((s.chunks, s.bytes_added), (2, 2 * CHUNK_SIZE));
    let out = dir.path().join("out.img");
    store.restore("big", &out).unwrap();
    assert_eq!(fs::metadata(&out).unwrap().len(), 64 * 1024 * MIB);
    assert!(disk_bytes(&out) <= 64 * 1024);
    let f = File::open(&out).unwrap();
    let mut got = [0u8; 20];
    f.read_exact_at(&mut got, 40 * 1024 * MIB - 10).unwrap();
    assert_eq!(got.as_slice(), pattern(40, 20));
}

#[test]
fn identical_chunks_are_shared_across_volumes() {
    let (dir, store) = setup();
    let v1 = dir.path().join("v1.img");
    let v2 = dir.path().join("v2.img");
    for v in [&v1, &v2] {
        sparse_volume(v, 8 * MIB);
        write_at(v, 2 * MIB, &pattern(50, MIB as usize));
    }
    write_at(&v2, 6 * MIB, &pattern(51, 10));
    assert_eq!(store.snapshot(&v1, "v1").unwrap().bytes_added, MIB);
    let s = store.snapshot(&v2, "v2").unwrap();
    assert_eq!((s.chunks, s.bytes_added), (3, CHUNK_SIZE));
}

#[test]
fn interrupted_snapshot_leaves_only_garbage_that_gc_removes() {
    let (dir, store) = setup();
    let vol = dir.path().join("vol.img");
    sparse_volume(&vol, 8 * MIB);
    write_at(&vol, 0, &pattern(60, MIB as usize));
    store.snapshot(&vol, "keep").unwrap();
    let keep_bytes = store.stored_bytes().unwrap();

    // Crash after the chunks, before the manifest: chunks written, a chunk temp file
    // and a manifest temp file left behind, no manifest.
    write_at(&vol, 4 * MIB, &pattern(61, MIB as usize));
    let mut writer = ChunkWriter::new(store.chunks_dir());
    let mut buf = vec![0u8; CHUNK_SIZE as usize];
    let f = File::open(&vol).unwrap();
    for index in 8..10 {
        f.read_exact_at(&mut buf, index * CHUNK_SIZE).unwrap();
        assert!(writer.store(&ChunkHash::of(&buf), &buf).unwrap());
    }
    writer.sync().unwrap();
    fs::create_dir_all(store.chunks_dir().join("ab")).unwrap();
    fs::write(store.chunks_dir().join("ab/.tmp-partial"), b"x").unwrap();
    fs::write(store.manifests_dir().join(".tmp-lost-1-1"), b"{").unwrap();

    assert!(!store.exists("lost"));
    assert!(matches!(
        store.manifest("lost"),
        Err(ChunkError::NotFound(_))
    ));
    let err = store.restore("lost", &dir.path().join("x")).unwrap_err();
    assert!(
        err.to_string().contains("creation was interrupted"),
        "{err}"
    );
    assert_eq!(store.stored_bytes().unwrap(), keep_bytes + MIB);
    assert_eq!(store.snapshots().unwrap(), ["keep"]);

    assert_eq!(store.gc().unwrap(), MIB + 2);
    assert_eq!(store.stored_bytes().unwrap(), keep_bytes);
    assert!(!store.chunks_dir().join("ab/.tmp-partial").exists());
    assert!(!store.manifests_dir().join(".tmp-lost-1-1").exists());
    let out = dir.path().join("out.img");
    store.restore("keep", &out).unwrap();
    assert_eq!(
        fs::read(&out).unwrap()[..MIB as usize],
        pattern(60, MIB as usize)
    );
}

#[test]
fn ids_are_validated_and_unique() {
    let (dir, store) = setup();
    let vol = dir.path().join("vol.img");
    sparse_volume(&vol, MIB);
    for bad in ["", ".hidden", "a/b", "../x", "snap id", &"x".repeat(129)] {
        assert!(matches!(
            store.snapshot(&vol, bad),
            Err(ChunkError::InvalidId(_))
        ));
        assert!(!store.exists(bad));
    }
    store.snapshot(&vol, "snap-0123456789abcdef0").unwrap();
    assert!(store.exists("snap-0123456789abcdef0"));
    assert!(matches!(
        store.snapshot(&vol, "snap-0123456789abcdef0"),
        Err(ChunkError::AlreadyExists(_))
    ));
    assert!(matches!(
        store.snapshot(dir.path(), "dir"),
        Err(ChunkError::NotAFile(_))
    ));
}

#[test]
fn damaged_manifest_is_reported_and_blocks_gc() {
    let (dir, store) = setup();
    let vol = dir.path().join("vol.img");
    sparse_volume(&vol, MIB);
    write_at(&vol, 0, b"data");
    store.snapshot(&vol, "good").unwrap();
    fs::write(
        store.manifests_dir().join("bad.json"),
        r#"{"version":1,"chunk_size":524288,"size":10,"chunks":[[5,"00"]]}"#,
    )
    .unwrap();
    assert!(matches!(
        store.manifest("bad"),
        Err(ChunkError::BadManifest { .. })
    ));
    assert!(matches!(store.gc(), Err(ChunkError::BadManifest { .. })));
    assert_eq!(store.stored_bytes().unwrap(), CHUNK_SIZE);
}

#[test]
fn concurrent_snapshots_and_gc_do_not_lose_chunks() {
    let (dir, store) = setup();
    let vols: Vec<PathBuf> = (0..3u64)
        .map(|i| {
            let v = dir.path().join(format!("v{i}.img"));
            sparse_volume(&v, 8 * MIB);
            write_at(&v, 0, &pattern(70, 2 * MIB as usize)); // shared by all
            write_at(&v, (4 + i) * MIB, &pattern(71 + i, MIB as usize));
            v
        })
        .collect();
    std::thread::scope(|s| {
        for (i, v) in vols.iter().enumerate() {
            let store = store.clone();
            s.spawn(move || {
                for round in 0..3 {
                    store.snapshot(v, &format!("v{i}-{round}")).unwrap();
                    if round > 0 {
                        store.delete(&format!("v{i}-{}", round - 1)).unwrap();
                    }
                }
            });
        }
        let store = store.clone();
        s.spawn(move || {
            for _ in 0..10 {
                store.gc().unwrap();
            }
        });
    });
    assert_eq!(store.snapshots().unwrap(), ["v0-2", "v1-2", "v2-2"]);
    for (i, v) in vols.iter().enumerate() {
        let out = dir.path().join("out.img");
        store.restore(&format!("v{i}-2"), &out).unwrap();
        assert_same(&out, v);
    }
    assert_eq!(store.stored_bytes().unwrap(), 2 * MIB + 3 * MIB);
}
