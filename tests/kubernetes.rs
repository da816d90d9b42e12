//! The Kubernetes manifests of `deploy/kubernetes/`: valid against the Kubernetes API schemas
//! (PyPI `kubernetes-validate`, pinned, in the shared test venv; strict, so an unknown field
//! fails), and agreeing with the runtime: probe paths and port, the memory limit over the
//! sandbox's guest-memory budget, the grace period over `a2a.shutdown_grace`, the image's
//! user, a sized emptyDir for the compiled-code cache (the root is read-only), and a
//! ConfigMap whose config.yaml passes preflight.

use std::path::{Path, PathBuf};
use std::process::Command;

use molecule_runtime::workspace::health_route::{HEALTHZ_PATH, READYZ_PATH};
use molecule_tests::{python, repo_root};
use serde_yaml::Value;

/// The validator, pinned.
const VALIDATOR: &str = "kubernetes-validate==1.37.0";

/// The Kubernetes version whose schemas the manifests are checked against.
const KUBERNETES_VERSION: &str = "1.33.0";

/// What the host itself needs beside the guests' memory budget (the Deployment's comment).
const HOST_MEMORY: u64 = 256 << 20;

/// Seconds the runtime needs after the grace period to fail and store what still runs.
const EXIT_MARGIN_SECS: u64 = 10;

/// The uid `deploy/Containerfile` runs as.
const IMAGE_UID: i64 = 65532;

fn manifests_dir() -> PathBuf {
    repo_root().join("deploy/kubernetes")
}

/// The files `kustomization.yaml` lists.
fn resources() -> Vec<PathBuf> {
    let k = yaml(&manifests_dir().join("kustomization.yaml"));
    let list = k["resources"].as_sequence().expect("resources");
    list.iter()
        .map(|r| manifests_dir().join(r.as_str().expect("a file name")))
        .collect()
}

fn yaml(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Runs the validator (strict) on `files`: its success and its output.
fn validate(files: &[PathBuf]) -> (bool, String) {
    let venv_python = python::venv_python(&[VALIDATOR]);
    let out = Command::new(venv_python)
        .args([
            "-m",
            "kubernetes_validate",
            "--strict",
            "-k",
            KUBERNETES_VERSION,
        ])
        .args(files)
        .output()
        .expect("running kubernetes_validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_manifests_are_valid_kubernetes_objects_and_strictness_bites() {
    let files = resources();
    assert_eq!(
        files.len(),
        5,
        "ConfigMap, Secret, PVC, Deployment, Service"
    );
    let (ok, text) = validate(&files);
    assert!(ok, "kubernetes-validate --strict failed:\n{text}");

    // The same Deployment with a misspelt field is refused: the check is strict.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("deployment.yaml");
    let text = std::fs::read_to_string(manifests_dir().join("deployment.yaml")).unwrap();
    let misspelt = text.replacen("readOnlyRootFilesystem:", "readOnlyRootFileSystem:", 1);
    assert_ne!(misspelt, text);
    std::fs::write(&bad, misspelt).unwrap();
    let (ok, out) = validate(&[bad]);
    assert!(!ok, "a misspelt field passed:\n{out}");
    assert!(out.contains("readOnlyRootFileSystem"), "{out}");
}

fn deployment() -> Value {
    yaml(&manifests_dir().join("deployment.yaml"))
}

fn container(d: &Value) -> &Value {
    &d["spec"]["template"]["spec"]["containers"][0]
}

/// Kubernetes quantity `768Mi`, `1Gi`, … in bytes.
fn quantity_bytes(q: &str) -> u64 {
    let (n, unit) = q.split_at(q.find(|c: char| !c.is_ascii_digit()).unwrap_or(q.len()));
    let n: u64 = n.parse().unwrap_or_else(|_| panic!("quantity {q}"));
    n * match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        other => panic!("unit {other} in {q}"),
    }
}

#[test]
fn the_deployment_matches_the_runtime_defaults() {
    let d = deployment();
    let c = container(&d);
    let port = molecule_config::A2aConfig::default().port;
    assert_eq!(c["ports"][0]["containerPort"].as_i64(), Some(port));
    let name = c["ports"][0]["name"].clone();
    for (probe, path) in [
        ("livenessProbe", HEALTHZ_PATH),
        ("startupProbe", HEALTHZ_PATH),
        ("readinessProbe", READYZ_PATH),
    ] {
        assert_eq!(c[probe]["httpGet"]["path"].as_str(), Some(path), "{probe}");
        assert_eq!(c[probe]["httpGet"]["port"], name, "{probe} on the A2A port");
    }
    let limit = quantity_bytes(c["resources"]["limits"]["memory"].as_str().unwrap());
    assert_eq!(
        limit,
        molecule_config::DEFAULT_MAX_GUEST_MEMORY + HOST_MEMORY
    );
    let grace = d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"].as_u64();
    let want = molecule_config::DEFAULT_SHUTDOWN_GRACE.as_secs() + EXIT_MARGIN_SECS;
    assert_eq!(grace, Some(want));

    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(
        pod["securityContext"]["runAsUser"].as_i64(),
        Some(IMAGE_UID)
    );
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );
    assert_eq!(d["spec"]["replicas"].as_i64(), Some(1));
    assert_eq!(d["spec"]["strategy"]["type"].as_str(), Some("Recreate"));
    let containerfile = std::fs::read_to_string(repo_root().join("deploy/Containerfile")).unwrap();
    assert!(containerfile.contains(&format!("USER {IMAGE_UID}:{IMAGE_UID}")));
}

/// The value of the container's environment variable `name`.
fn env_value(c: &Value, name: &str) -> String {
    let env = c["env"].as_sequence().expect("env");
    let var = env.iter().find(|e| e["name"].as_str() == Some(name));
    let var = var.unwrap_or_else(|| panic!("no {name} in the container's env"));
    var["value"].as_str().expect("a value").to_owned()
}

#[test]
fn the_volumes_config_and_secret_are_wired_to_the_runtime() {
    let d = deployment();
    let c = container(&d);
    let mounts = c["volumeMounts"].as_sequence().expect("volumeMounts");
    let mount_of = |volume: &str| {
        let m = mounts.iter().find(|m| m["name"].as_str() == Some(volume));
        m.unwrap_or_else(|| panic!("no mount of {volume}"))["mountPath"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(env_value(c, "MOLECULE_DATA_DIR"), mount_of("data"));
    assert_eq!(env_value(c, "WORKSPACE_CONFIG_PATH"), mount_of("config"));
    let containerfile = std::fs::read_to_string(repo_root().join("deploy/Containerfile")).unwrap();
    assert!(containerfile.contains(&format!("VOLUME [\"{}\"]", mount_of("data"))));

    let volumes = d["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .unwrap();
    let volume = |name: &str| {
        volumes
            .iter()
            .find(|v| v["name"].as_str() == Some(name))
            .unwrap()
    };
    let pvc = yaml(&manifests_dir().join("persistentvolumeclaim.yaml"));
    assert_eq!(
        volume("data")["persistentVolumeClaim"]["claimName"],
        pvc["metadata"]["name"]
    );
    let configmap = yaml(&manifests_dir().join("configmap.yaml"));
    assert_eq!(
        volume("config")["configMap"]["name"],
        configmap["metadata"]["name"]
    );
    let secret = yaml(&manifests_dir().join("secret.yaml"));
    assert_eq!(
        c["envFrom"][0]["secretRef"]["name"],
        secret["metadata"]["name"]
    );
    assert!(secret["stringData"]["MOLECULE_INBOUND_SECRET"].is_string());

    // The ConfigMap's config.yaml passes the runtime's own preflight, with the defaults the
    // Deployment is sized for.
    let text = configmap["data"]["config.yaml"]
        .as_str()
        .expect("config.yaml");
    let dir = tempfile::tempdir().unwrap();
    let plan = molecule_tests::local_plan(dir.path(), text, &[]);
    assert_eq!(
        plan.config.a2a.shutdown_grace,
        molecule_config::DEFAULT_SHUTDOWN_GRACE
    );
    assert_eq!(
        plan.config.a2a.port,
        molecule_config::A2aConfig::default().port
    );
}

/// The environment value `name` of the image's final stage (`ENV` in deploy/Containerfile).
fn image_env(name: &str) -> Option<String> {
    let text = std::fs::read_to_string(repo_root().join("deploy/Containerfile")).unwrap();
    let final_stage = text.rsplit("\nFROM scratch\n").next().unwrap_or_default();
    final_stage.split_whitespace().find_map(|word| {
        let value = word.strip_prefix(name)?.strip_prefix('=')?;
        Some(value.to_owned())
    })
}

/// The root filesystem is read-only, so a skill that is not precompiled into the image needs
/// a writable compiled-code cache: MOLECULE_CACHE_DIR is a sized emptyDir, its bound below
/// the emptyDir's size, and the image's precompiled code stays readable beside it.
#[test]
fn the_compiled_cache_is_a_sized_emptydir_beside_the_images_precompiled_code() {
    let d = deployment();
    let c = container(&d);
    let cache_dir = env_value(c, "MOLECULE_CACHE_DIR");
    let mounts = c["volumeMounts"].as_sequence().expect("volumeMounts");
    let mount = mounts
        .iter()
        .find(|m| m["mountPath"].as_str() == Some(cache_dir.as_str()))
        .unwrap_or_else(|| panic!("nothing mounted at MOLECULE_CACHE_DIR {cache_dir}"));
    assert_ne!(mount["readOnly"].as_bool(), Some(true), "{mount:?}");
    let volumes = d["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .unwrap();
    let volume = volumes
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the cache's volume");
    let size = volume["emptyDir"]["sizeLimit"]
        .as_str()
        .unwrap_or_else(|| panic!("the cache is an emptyDir with a sizeLimit: {volume:?}"));
    let size = quantity_bytes(size);
    // The runtime's own bound keeps the cache below the emptyDir's size (over it, the kubelet
    // evicts the pod).
    let bound = env_value(c, molecule_runtime::cache::MAX_BYTES_VAR);
    let bound = molecule_runtime::cache::max_bytes_from(Some(&bound)).unwrap();
    assert!(
        bound < size,
        "cache bound {bound} not below the emptyDir's {size}"
    );
    // The image's precompiled code is a separate, read-only layer the emptyDir does not hide.
    let precompiled = image_env(molecule_runtime::cache::PRECOMPILED_VAR)
        .expect("the image sets MOLECULE_PRECOMPILED_DIR");
    assert!(
        !Path::new(&precompiled).starts_with(&cache_dir),
        "{precompiled} under the emptyDir {cache_dir}"
    );
    let containerfile = std::fs::read_to_string(repo_root().join("deploy/Containerfile")).unwrap();
    assert!(
        containerfile.contains(&format!("COPY --from=cache {precompiled} {precompiled}")),
        "the final stage copies the compiled cache to {precompiled}"
    );
}
