//! Registry credentials, read the way OCI tools read them: the `auths` map of a
//! containers-auth.json / Docker config file (`REGISTRY_AUTH_FILE`, as podman, skopeo and
//! buildah read it; else `$DOCKER_CONFIG/config.json`; else `~/.docker/config.json`), the
//! entry for the registry's host (`host:port`, also written `https://host:port` or with a
//! `/v1/` path), as `auth` (base64 `user:password`) or `username` / `password`. The result is
//! oci-client's `RegistryAuth::Basic` (or `Anonymous` when there is no file or no entry).
//! Credential helpers (`credHelpers`, `credsStore`) are not run. Credentials are never logged
//! and never part of an error; errors name the file (and the `auths` key).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;

use crate::error::PackageError;

/// The largest credentials file read, in bytes (1 MiB).
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Where credentials are looked for: `REGISTRY_AUTH_FILE` when set, else the Docker config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthSources {
    /// `REGISTRY_AUTH_FILE`: the one file used when set.
    pub auth_file: Option<PathBuf>,
    /// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
    pub docker_config: Option<PathBuf>,
}

impl AuthSources {
    /// From the process environment (`REGISTRY_AUTH_FILE`, `DOCKER_CONFIG`, `HOME`).
    pub fn from_env() -> AuthSources {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let docker_config = var("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".docker")))
            .map(|dir| dir.join("config.json"));
        AuthSources {
            auth_file: var("REGISTRY_AUTH_FILE").map(PathBuf::from),
            docker_config,
        }
    }

    /// The credentials for `registry` (`host` or `host:port`): `Basic` from the first file
    /// that exists with an entry for it, else `Anonymous`. A file that exists but cannot be
    /// read, is not JSON, or whose entry is malformed is an error naming it.
    pub fn lookup(&self, registry: &str) -> Result<RegistryAuth, PackageError> {
        let file = match (&self.auth_file, &self.docker_config) {
            (Some(file), _) => file,
            (None, Some(file)) if file.is_file() => file,
            _ => return Ok(RegistryAuth::Anonymous),
        };
        lookup_in(file, registry)
    }
}

/// The credentials for `registry` in the auth file `file` (must exist).
fn lookup_in(file: &Path, registry: &str) -> Result<RegistryAuth, PackageError> {
    let bad = |reason: String| PackageError::Key {
        path: file.to_owned(),
        reason: format!("registry credentials: {reason}"),
    };
    let meta = std::fs::metadata(file)
        .map_err(|e| PackageError::io(file, "reading registry credentials", e))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(bad(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    let bytes = std::fs::read(file)
        .map_err(|e| PackageError::io(file, "reading registry credentials", e))?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        bad(format!(
            "not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let Some(auths) = doc.get("auths").and_then(|a| a.as_object()) else {
        return Ok(RegistryAuth::Anonymous);
    };
    let Some((key, entry)) = auths.iter().find(|(key, _)| host_of(key) == registry) else {
        return Ok(RegistryAuth::Anonymous);
    };
    let entry_error = |what: &str| bad(format!("`auths.{}` {what}", key.escape_debug()));
    if let Some(encoded) = entry.get("auth").and_then(|a| a.as_str()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| entry_error("has an `auth` that is not base64"))?;
        let text = String::from_utf8(decoded)
            .map_err(|_| entry_error("has an `auth` that is not UTF-8"))?;
        let (user, password) = text
            .split_once(':')
            .ok_or_else(|| entry_error("has an `auth` that is not `user:password`"))?;
        return Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()));
    }
    match (
        entry.get("username").and_then(|u| u.as_str()),
        entry.get("password").and_then(|p| p.as_str()),
    ) {
        (Some(user), Some(password)) => {
            Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()))
        }
        _ => Err(entry_error(
            "has neither `auth` nor `username` and `password`",
        )),
    }
}

/// The `host[:port]` of an `auths` key (`https://host:port/v1/` → `host:port`).
fn host_of(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

/// The credentials for `reference`'s registry from the process environment.
pub(crate) fn for_reference(
    reference: &oci_client::Reference,
) -> Result<RegistryAuth, PackageError> {
    AuthSources::from_env().lookup(reference.resolve_registry())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn basic(auth: RegistryAuth) -> Option<(String, String)> {
        match auth {
            RegistryAuth::Basic(user, password) => Some((user, password)),
            _ => None,
        }
    }

    #[test]
    fn credentials_come_from_the_auths_entry_of_the_host() {
        let dir = tempfile::tempdir().unwrap();
        // "alice:s3cret" in base64.
        let docker = file(
            dir.path(),
            "config.json",
            r#"{"auths": {"https://reg.example:5000/v1/": {"auth": "YWxpY2U6czNjcmV0"},
                "other.example": {"username": "bob", "password": "pw"}}}"#,
        );
        let sources = AuthSources {
            auth_file: None,
            docker_config: Some(docker.clone()),
        };
        let alice = Some(("alice".to_owned(), "s3cret".to_owned()));
        assert_eq!(basic(sources.lookup("reg.example:5000").unwrap()), alice);
        let bob = Some(("bob".to_owned(), "pw".to_owned()));
        assert_eq!(basic(sources.lookup("other.example").unwrap()), bob);
        assert_eq!(basic(sources.lookup("reg.example").unwrap()), None);
        // REGISTRY_AUTH_FILE wins over the Docker config.
        let auth_file = file(dir.path(), "auth.json", r#"{"auths": {}}"#);
        let both = AuthSources {
            auth_file: Some(auth_file),
            docker_config: Some(docker),
        };
        assert_eq!(basic(both.lookup("reg.example:5000").unwrap()), None);
        // No file at all: anonymous.
        let none = AuthSources {
            auth_file: None,
            docker_config: Some(dir.path().join("missing.json")),
        };
        assert_eq!(basic(none.lookup("reg.example:5000").unwrap()), None);
    }

    #[test]
    fn a_bad_credentials_file_is_an_error_naming_it_and_never_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text, why) in [
            ("a.json", "{not json", "not JSON"),
            (
                "b.json",
                r#"{"auths": {"r.example": {"auth": "%%%"}}}"#,
                "not base64",
            ),
            // "nocolon-s3cret" in base64.
            (
                "c.json",
                r#"{"auths": {"r.example": {"auth": "bm9jb2xvbi1zM2NyZXQ="}}}"#,
                "not `user:password`",
            ),
            (
                "d.json",
                r#"{"auths": {"r.example": {"username": "u"}}}"#,
                "neither",
            ),
        ] {
            let path = file(dir.path(), name, text);
            let sources = AuthSources {
                auth_file: Some(path.clone()),
                docker_config: None,
            };
            let err = sources.lookup("r.example").unwrap_err().to_string();
            assert!(
                err.contains(&path.display().to_string()) && err.contains(why),
                "{err}"
            );
            assert!(!err.contains("s3cret"), "{err}");
        }
        let missing = AuthSources {
            auth_file: Some(dir.path().join("gone.json")),
            docker_config: None,
        };
        let err = missing.lookup("r.example").unwrap_err().to_string();
        assert!(err.contains("gone.json"), "{err}");
    }
}
