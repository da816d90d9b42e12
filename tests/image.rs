//! The container image: `podman build` of `deploy/Containerfile` (the musl release binary,
//! the adapters and the demo workspace, compiled into the image's cache by the build itself),
//! then checks of what came out — the image's config (`podman image inspect`: non-root user,
//! the data volume, the A2A port, the entrypoint, no shell needed), its size, and its root
//! filesystem (`podman create` + `podman export`), whose binary is booted on the host with the
//! image's layout and a fresh data folder: it serves the Agent Card, `/healthz` and `/readyz`
//! without compiling anything or writing outside the data folder.
//!
//! Needs podman and buildah (`dev/setup` installs them) and the musl target (added here with
//! rustup when missing). The first run builds the runtime for musl in release mode (~8 min on
//! 2 cores); later runs reuse it.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use molecule_tests::image::{
    boot_rootfs, boot_rootfs_with, build_context, exported_rootfs, image_work_dir, musl_binary,
    wait_for_card, IMAGE_TAG, MUSL_TARGET,
};
use molecule_tests::repo_root;
use serde_json::Value;

/// The image-size goal of issue 17, in bytes.
const SIZE_GOAL: u64 = 60_000_000;

/// Runs `cmd`; its stdout, or a panic naming `what` with both outputs.
fn run(cmd: &mut Command, what: &str) -> String {
    molecule_tests::python::run(cmd, what)
}

fn ensure_musl_target() {
    let installed = run(
        Command::new("rustup")
            .args(["target", "list", "--installed"])
            .current_dir(repo_root()),
        "rustup target list",
    );
    if !installed.lines().any(|l| l.trim() == MUSL_TARGET) {
        run(
            Command::new("rustup")
                .args(["target", "add", MUSL_TARGET])
                .current_dir(repo_root()),
            "rustup target add (the image's static binary)",
        );
    }
}

fn podman(args: &[&str], what: &str) -> String {
    run(Command::new("podman").args(args), what)
}

/// The image id `IMAGE_TAG` names now, if any.
fn tagged_image_id() -> Option<String> {
    let out = Command::new("podman")
        .args(["image", "inspect", "--format", "{{.Id}}", IMAGE_TAG])
        .output()
        .ok()?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !id.is_empty()).then_some(id)
}

/// Builds the image and returns `podman image inspect`'s record of it.
///
/// With `--layers`, each step's result is kept as an intermediate image keyed by its
/// inputs, so a run whose context did not change (`build_context` rewrites only changed
/// files) reuses the cache stage instead of compiling every component again. The image the
/// tag named before is removed when the new build differs (its layers no other image uses go
/// with it), so runs do not pile up images.
fn build_image(ctx: &Path) -> Value {
    let containerfile = repo_root().join("deploy/Containerfile");
    let previous = tagged_image_id();
    let args = [
        "build",
        "--layers",
        "--isolation",
        "chroot",
        "--tag",
        IMAGE_TAG,
        "--file",
        containerfile.to_str().unwrap(),
        ctx.to_str().unwrap(),
    ];
    let started = std::time::Instant::now();
    let out = Command::new("podman")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run podman ({e}): install podman and buildah (`dev/setup` does)")
        });
    assert!(
        out.status.success(),
        "`podman {}` failed ({}): the context is kept in {} to retry by hand; podman said:\n{}",
        args.join(" "),
        out.status,
        ctx.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stdout);
    let cached = log.matches("Using cache").count();
    println!(
        "podman build: {:.1} s, {cached} steps from the layer cache",
        started.elapsed().as_secs_f64()
    );
    if let Some(old) = previous.filter(|old| Some(old) != tagged_image_id().as_ref()) {
        let _ = Command::new("podman").args(["rmi", &old]).output();
    }
    let inspect = podman(&["image", "inspect", IMAGE_TAG], "podman image inspect");
    let list: Value = serde_json::from_str(&inspect).expect("inspect JSON");
    list[0].clone()
}

/// Exports the image's root filesystem into `dest` (`podman create` + `podman export`).
fn export_rootfs(dest: &Path) {
    let _ = std::fs::remove_dir_all(dest);
    std::fs::create_dir_all(dest).unwrap();
    let id = podman(&["create", IMAGE_TAG], "podman create");
    let id = id.trim();
    let tar = dest.with_extension("tar");
    let exported = Command::new("podman")
        .args(["export", "--output", tar.to_str().unwrap(), id])
        .status();
    let _ = Command::new("podman").args(["rm", id]).status();
    assert!(exported.expect("podman export").success(), "podman export");
    run(
        Command::new("tar").arg("-xf").arg(&tar).arg("-C").arg(dest),
        "unpacking the exported rootfs",
    );
    let _ = std::fs::remove_file(&tar);
}

fn check_config(image: &Value) {
    let config = &image["Config"];
    assert_eq!(config["User"], "65532:65532", "{config}");
    assert!(
        config["Volumes"]["/var/lib/molecule"].is_object(),
        "{config}"
    );
    assert!(config["ExposedPorts"]["8000/tcp"].is_object(), "{config}");
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/usr/local/bin/molecule-runtime"]),
        "exec form: no shell"
    );
    assert_eq!(config["Cmd"], serde_json::json!(["run"]));
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        env.contains(&"MOLECULE_DATA_DIR=/var/lib/molecule"),
        "{env:?}"
    );
    assert!(
        env.contains(&"MOLECULE_PRECOMPILED_DIR=/opt/molecule/cache/compiled"),
        "{env:?}"
    );
}

fn check_rootfs(root: &Path) {
    assert!(!root.join("bin/sh").exists(), "no shell in the image");
    let compiled = root.join("opt/molecule/cache/compiled");
    let entries = std::fs::read_dir(&compiled)
        .expect("the compiled cache")
        .count();
    // Six adapters and the demo's two skills.
    assert!(
        entries >= 8,
        "{entries} compiled entries in {}",
        compiled.display()
    );
    use std::os::unix::fs::MetadataExt as _;
    let data = std::fs::metadata(root.join("var/lib/molecule")).unwrap();
    assert_eq!(
        (data.uid(), data.gid()),
        (65532, 65532),
        "the volume is the user's"
    );
}

/// Every file under `dir` with its size and modification time.
fn listing(dir: &Path) -> Vec<(String, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            out.extend(listing(&entry.path()));
        } else {
            let when = meta.modified().unwrap();
            out.push((entry.path().display().to_string(), meta.len(), when));
        }
    }
    out.sort();
    out
}

/// Boots the image's binary with a fresh data folder and, when `cache` is given, the
/// Deployment's writable `MOLECULE_CACHE_DIR` (its emptyDir): the card, `/readyz`, no change
/// under `/opt`, and nothing compiled into `cache` (all comes from the precompiled layer).
async fn boot_and_fetch(root: &Path, cache: Option<&Path>) {
    let before = listing(&root.join("opt"));
    let data = tempfile::tempdir().unwrap();
    let booted = match cache {
        Some(dir) => boot_rootfs_with(root, data.path(), &[("MOLECULE_CACHE_DIR", dir)]),
        None => boot_rootfs(root, data.path()),
    };
    let card = wait_for_card(&booted.base, Duration::from_secs(60))
        .await
        .expect("the image's binary serves its Agent Card");
    assert_eq!(card["name"], "Demo Workspace", "{card}");
    let skills: Vec<&str> = card["skills"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert!(
        skills.contains(&"json-query") && skills.contains(&"notes"),
        "{card}"
    );
    let ready = reqwest::get(format!("{}/readyz", booted.base))
        .await
        .unwrap();
    assert_eq!(
        ready.status().as_u16(),
        200,
        "{}",
        ready.text().await.unwrap()
    );
    drop(booted);
    // Read-only root: nothing compiled or written under /opt; the store is in the volume.
    let after = listing(&root.join("opt"));
    let names = |l: &[(String, u64, std::time::SystemTime)]| -> Vec<(String, u64)> {
        l.iter().map(|(n, s, _)| (n.clone(), *s)).collect()
    };
    assert_eq!(names(&before), names(&after), "the image's files changed");
    assert!(data.path().join("tasks.sqlite").is_file());
    if let Some(dir) = cache {
        let compiled: Vec<_> = listing(dir).into_iter().map(|(n, _, _)| n).collect();
        assert!(
            compiled.iter().all(|n| !n.ends_with(".cwasm")),
            "compiled at boot despite the precompiled layer: {compiled:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_builds_runs_as_non_root_and_boots_from_its_precompiled_cache() {
    ensure_musl_target();
    let binary = musl_binary();
    let ctx = image_work_dir().join("context");
    build_context(&ctx, &binary);
    let image = build_image(&ctx);
    check_config(&image);
    let size = image["Size"].as_u64().expect("Size");
    println!(
        "image {IMAGE_TAG}: {size} bytes ({:.1} MB)",
        size as f64 / 1e6
    );
    assert!(
        size <= SIZE_GOAL,
        "the image is {size} bytes, over the {SIZE_GOAL} goal"
    );

    let root = exported_rootfs();
    export_rootfs(&root);
    check_rootfs(&root);
    boot_and_fetch(&root, None).await;
    // As deploy/kubernetes runs it: MOLECULE_CACHE_DIR on an (empty) writable volume.
    let empty_dir = tempfile::tempdir().unwrap();
    boot_and_fetch(&root, Some(empty_dir.path())).await;
}
