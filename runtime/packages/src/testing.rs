//! A real OCI registry for tests (feature `test-registry`): Debian's `docker-registry` (the
//! CNCF distribution registry, installed by `dev/setup`) started on 127.0.0.1 on a free port
//! with its storage in a temporary folder and a generated config; stopped (killed and its
//! folder removed) on drop. Shared by the workspace's tests and the binary's CLI tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The registry binary `dev/setup` installs.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A running registry.
pub struct Registry {
    /// `127.0.0.1:<port>`: the registry part of references to it.
    pub host: String,
    storage: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry and waits (at most 20 s) until `GET /v2/` answers. Panics, naming
    /// `dev/setup`, when the binary is missing.
    pub fn start() -> Registry {
        assert!(
            Path::new(REGISTRY_BIN).is_file(),
            "{REGISTRY_BIN} is missing: run dev/setup (installs Debian's docker-registry)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = dir.path().join("storage");
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        let yaml = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {host}\n",
            storage.display()
        );
        std::fs::write(&config, yaml).expect("write registry config");
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let registry = Registry {
            host,
            storage,
            child,
            _dir: dir,
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut stream) = std::net::TcpStream::connect(&self.host) {
                use std::io::{Read as _, Write as _};
                let request = format!("GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.host);
                let mut answer = String::new();
                if stream.write_all(request.as_bytes()).is_ok()
                    && stream.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.")
                    && answer.contains(" 200 ")
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The file the registry stores blob `digest` (`sha256:<hex>`) in.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Rewrites the cosign signature of `digest` in repository `from` (on `host`) and stores the
/// result as the signature of the same digest in repository `to` (which may be `from`):
/// `edit` gets the payload and the base64 signature and returns what to store. Tests use it
/// to tamper with a signature, or to copy a valid one next to another repository's package.
pub async fn rewrite_signature(
    host: &str,
    from: &str,
    to: &str,
    digest: &str,
    edit: impl FnOnce(Vec<u8>, String) -> (Vec<u8>, String),
) {
    use crate::signature_record::SIGNATURE_ANNOTATION;
    use oci_client::secrets::RegistryAuth;
    let tag = crate::PackageRef::signature_tag(digest);
    let at =
        |repo: &str| oci_client::Reference::with_tag(host.to_owned(), repo.to_owned(), tag.clone());
    let (source, target) = (at(from), at(to));
    let client = crate::reference::client(&source, &[]);
    let auth = RegistryAuth::Anonymous;
    let (bytes, _) = client
        .pull_manifest_raw(&source, &auth, &[crate::media_types::MANIFEST_MEDIA_TYPE])
        .await
        .expect("signature manifest");
    let mut manifest: oci_client::manifest::OciImageManifest =
        serde_json::from_slice(&bytes).expect("signature manifest JSON");
    let layer = &mut manifest.layers[0];
    let mut payload = Vec::new();
    client
        .pull_blob(&source, &*layer, &mut payload)
        .await
        .expect("signature payload");
    let annotations = layer.annotations.get_or_insert_with(Default::default);
    let signature = annotations.remove(SIGNATURE_ANNOTATION).unwrap_or_default();
    let (payload, signature) = edit(payload, signature);
    annotations.insert(SIGNATURE_ANNOTATION.to_owned(), signature);
    layer.digest = crate::blobs::digest_of(&payload);
    layer.size = payload.len() as i64;
    client
        .push_blob(&target, payload, &layer.digest)
        .await
        .expect("push payload");
    let config = manifest.config.clone();
    let mut config_bytes = Vec::new();
    client
        .pull_blob(&source, &config, &mut config_bytes)
        .await
        .expect("signature config");
    client
        .push_blob(&target, config_bytes, &config.digest)
        .await
        .expect("push config");
    let body = serde_json::to_vec(&manifest).expect("manifest JSON");
    let media_type = manifest
        .media_type
        .clone()
        .unwrap_or_else(|| crate::media_types::MANIFEST_MEDIA_TYPE.to_owned());
    client
        .push_manifest_raw(&target, body, media_type.parse().expect("media type"))
        .await
        .expect("push signature manifest");
}
