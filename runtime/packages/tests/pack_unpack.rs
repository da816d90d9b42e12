//! Packing and unpacking without a registry: a folder packs to the same bytes every time and
//! unpacks to the same files; a link in a folder is refused at pack time; a layer over the
//! byte, entry or depth budget, or naming a file twice, is refused at unpack time; the
//! decompressed stream (extension headers included) is held to its budget while it streams.

use std::path::Path;

use molecule_packages::unpack::unpack;
use molecule_packages::{pack, Limits};

fn skill(dir: &Path) {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(
        dir.join("SKILL.md"),
        "---\nname: s\ncapabilities:\n  hosts: [example.com]\n---\n",
    )
    .unwrap();
    std::fs::write(dir.join("app.py"), "print('hi')\n").unwrap();
    std::fs::write(dir.join("data/x.txt"), "x").unwrap();
}

/// A tar.gz of `files` (path, size in bytes of zeros).
fn layer(files: &[(&str, u64)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, size) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(*size);
        h.set_mode(0o644);
        tar.append_data(&mut h, name, std::io::Read::take(std::io::repeat(0), *size))
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

#[test]
fn a_folder_packs_deterministically_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    skill(&dir.path().join("s"));
    let a = pack(&dir.path().join("s"), &Limits::default()).unwrap();
    let b = pack(&dir.path().join("s"), &Limits::default()).unwrap();
    assert_eq!(a.layer, b.layer, "same folder, same layer bytes");
    assert_eq!(a.files, ["SKILL.md", "app.py", "data/x.txt"]);
    assert_eq!(a.config.kind, "python");
    assert_eq!(a.config.capabilities["hosts"][0], "example.com");
    let out = dir.path().join("out");
    let done = unpack(&a.layer[..], &out, &Limits::default()).unwrap();
    assert_eq!(done.files, 3);
    assert_eq!(
        std::fs::read_to_string(out.join("data/x.txt")).unwrap(),
        "x"
    );
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_in_the_folder_is_refused_at_pack_time() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    skill(&s);
    std::os::unix::fs::symlink("/etc/passwd", s.join("passwd")).unwrap();
    let err = pack(&s, &Limits::default()).unwrap_err().to_string();
    assert!(
        err.contains("passwd") && err.contains("symbolic link"),
        "{err}"
    );
}

fn refused(files: &[(&str, u64)], limits: Limits) -> String {
    let dir = tempfile::tempdir().unwrap();
    let r = unpack(&layer(files)[..], &dir.path().join("out"), &limits).unwrap_err();
    format!("{}: {}", r.entry, r.reason)
}

#[test]
fn over_budget_layers_are_refused() {
    let small = Limits {
        max_unpacked_bytes: 1000,
        max_entries: 3,
        max_depth: 2,
        ..Limits::default()
    };
    let text = refused(&[("SKILL.md", 10), ("big", 1_000)], small);
    assert!(
        text.starts_with("big: ") && text.contains("1000 unpacked bytes"),
        "{text}"
    );
    let many = [("a", 1), ("b", 1), ("c", 1), ("d", 1)];
    let text = refused(&many, small);
    assert!(
        text.starts_with("d: ") && text.contains("3 entries"),
        "{text}"
    );
    let text = refused(&[("a/b/c", 1)], small);
    assert!(text.contains("deeper than 2"), "{text}");
    let text = refused(&[("a", 1), ("./a", 1)], small);
    assert!(text.contains("appears twice"), "{text}");
}

#[test]
fn a_crate_with_a_path_dependency_outside_the_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    skill(&s);
    std::fs::write(
        s.join("Cargo.toml"),
        "[package]\nname = \"s\"\n[dependencies]\nsdk = { path = \"../../sdk\" }\n",
    )
    .unwrap();
    let err = pack(&s, &Limits::default()).unwrap_err().to_string();
    assert!(
        err.contains("Cargo.toml") && err.contains("../../sdk") && err.contains("tool.wasm"),
        "{err}"
    );
}

#[test]
fn a_crate_without_a_built_component_is_refused_at_pack() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    skill(&s);
    std::fs::write(s.join("Cargo.toml"), "[package]\nname = \"s\"\n").unwrap();
    let err = pack(&s, &Limits::default()).unwrap_err().to_string();
    assert!(
        err.contains("never built on the host") && err.contains("tool.wasm"),
        "{err}"
    );
}

/// A layer whose first entry is a GNU long-name extension header of `len` bytes (`a`s), then
/// a one-byte file it names.
fn long_name_layer(len: usize) -> Vec<u8> {
    use std::io::Read as _;
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut ext = tar::Header::new_gnu();
    ext.set_entry_type(tar::EntryType::GNULongName);
    ext.set_size(len as u64);
    ext.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    ext.set_cksum();
    tar.append(&ext, std::io::repeat(b'a').take(len as u64))
        .unwrap();
    let mut file = tar::Header::new_gnu();
    file.set_size(1);
    file.set_mode(0o644);
    file.as_gnu_mut().unwrap().name[..1].copy_from_slice(b"a");
    file.set_cksum();
    tar.append(&file, &b"x"[..]).unwrap();
    tar.into_inner().unwrap().finish().unwrap()
}

#[test]
fn extension_headers_count_against_the_decompressed_budget_while_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_decompressed_bytes: 1 << 20,
        ..Limits::default()
    };
    // A 4 MiB long name (a few KiB compressed): refused as the stream passes 1 MiB, before
    // tar holds the whole name.
    let r = unpack(
        &long_name_layer(4 << 20)[..],
        &dir.path().join("bomb"),
        &limits,
    )
    .unwrap_err();
    assert!(
        r.reason.contains("past 1048576 decompressed bytes"),
        "{}: {}",
        r.entry,
        r.reason
    );
    // Within the stream budget, a long name is still held to the path budget.
    let r = unpack(
        &long_name_layer(5000)[..],
        &dir.path().join("long"),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        r.reason
            .contains("has a path of 5000 bytes, more than the 4096 allowed"),
        "{}",
        r.reason
    );
}

#[test]
fn a_decompression_bomb_is_refused_at_the_budget_not_after() {
    // One file declaring 3 MiB in a layer allowed 1 MiB decompressed but 8 MiB unpacked: the
    // stream budget stops it while the file is being written.
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_decompressed_bytes: 1 << 20,
        ..Limits::default()
    };
    let text = {
        let r = unpack(
            &layer(&[("SKILL.md", 10), ("zeros", 3 << 20)])[..],
            &dir.path().join("out"),
            &limits,
        )
        .unwrap_err();
        format!("{}: {}", r.entry, r.reason)
    };
    assert!(
        text.starts_with("zeros: ") && text.contains("past 1048576 decompressed bytes"),
        "{text}"
    );
    let written = std::fs::metadata(dir.path().join("out/zeros"))
        .map(|m| m.len())
        .ok();
    assert!(written.unwrap_or(0) <= 1 << 20, "{written:?}");
}
