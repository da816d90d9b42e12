//! OCI references as config.yaml and the command line write them
//! (`registry/org/skill@sha256:<hex>`, `registry/org/skill:tag`), parsed by `oci-client`
//! (the distribution spec's grammar), and the registry client for one: plain HTTP for a
//! registry on the loopback (`localhost`, `127.0.0.1`, `[::1]`) or one listed as insecure,
//! HTTPS for every other (as `docker`, `oras` and `cosign` do).

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::{Client, Reference};

use crate::error::PackageError;

/// A parsed reference with the text it was written as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRef {
    /// As written (config.yaml or the command line).
    pub written: String,
    /// Parsed (registry, repository, tag, digest).
    pub reference: Reference,
}

impl PackageRef {
    /// Parses `text`; the error names it and says how to write one. The registry must be
    /// written out (`docker.io/vendor/echo:1`, `localhost:5000/echo@sha256:…`): a first
    /// component that is not a host name (no `.` or `:`, not `localhost`) is refused rather
    /// than silently taken as Docker Hub, so `vendor/echo` is never fetched from the internet.
    pub fn parse(text: &str) -> Result<PackageRef, PackageError> {
        let first = text.trim().split('/').next().unwrap_or_default();
        let names_a_host = first.contains('.') || first.contains(':') || first == "localhost";
        if !text.trim().contains('/') || !names_a_host {
            return Err(PackageError::Reference {
                reference: text.to_owned(),
                reason: format!(
                    "`{first}` is not a registry host: write the registry out, e.g. \
                     docker.io/{} or localhost:5000/{}",
                    text.trim(),
                    text.trim()
                ),
            });
        }
        let reference: Reference =
            text.trim()
                .parse()
                .map_err(|e: oci_client::ParseError| PackageError::Reference {
                    reference: text.to_owned(),
                    reason: e.to_string(),
                })?;
        Ok(PackageRef {
            written: text.trim().to_owned(),
            reference,
        })
    }

    /// The pinned digest (`sha256:<hex>`), if the reference has one.
    pub fn digest(&self) -> Option<&str> {
        self.reference.digest()
    }

    /// The skill id this package loads as: the last component of the repository
    /// (`localhost:5000/acme/echo@sha256:…` → `echo`). Grants are keyed by it
    /// (`grants.skills.echo`).
    pub fn skill_id(&self) -> &str {
        let repo = self.reference.repository();
        repo.rsplit('/').next().unwrap_or(repo)
    }

    /// The same repository pinned at `digest`.
    pub fn pinned(&self, digest: &str) -> Reference {
        Reference::with_digest(
            self.reference.registry().to_owned(),
            self.reference.repository().to_owned(),
            digest.to_owned(),
        )
    }

    /// The tag where cosign stores signatures of `digest`: `sha256-<hex>.sig`.
    pub fn signature_tag(digest: &str) -> String {
        format!("{}.sig", digest.replace(':', "-"))
    }
}

/// Whether a `skills:` entry of config.yaml names an OCI package rather than a folder under
/// `skills/`: folder ids never hold a `/`, references always do.
pub fn is_reference(entry: &str) -> bool {
    entry.contains('/')
}

/// Whether `registry` (`host`, `host:port`, `[::1]:port`) is on the loopback.
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => registry.split(':').next().unwrap_or(registry),
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

/// The registries reached over plain HTTP for `reference`: `insecure` (`host:port` as written
/// in `packages.insecure_registries`) and its own registry when that is on the loopback.
pub fn plain_http_registries(reference: &Reference, insecure: &[String]) -> Vec<String> {
    let registry = reference.resolve_registry().to_owned();
    let mut plain: Vec<String> = insecure.to_vec();
    if is_loopback(&registry) {
        plain.push(registry);
    }
    plain
}

/// How long connecting to a registry may take before the pull fails.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a registry may stay silent while answering (per read, not per body) before the
/// pull fails: a trickling registry cannot hang boot for longer than this between bytes.
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The registry client settings for `reference`: plain HTTP for the registries of
/// [`plain_http_registries`], HTTPS otherwise.
pub fn client_config(reference: &Reference, insecure: &[String]) -> ClientConfig {
    ClientConfig {
        protocol: ClientProtocol::HttpsExcept(plain_http_registries(reference, insecure)),
        connect_timeout: Some(CONNECT_TIMEOUT),
        read_timeout: Some(READ_TIMEOUT),
        ..ClientConfig::default()
    }
}

/// A registry client for `reference` (see [`client_config`]).
pub fn client(reference: &Reference, insecure: &[String]) -> Client {
    crate::tls::install_provider();
    Client::new(client_config(reference, insecure))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_clients_have_connect_and_read_timeouts() {
        let reference = PackageRef::parse("ghcr.io/acme/ver:1").unwrap().reference;
        let config = client_config(&reference, &[]);
        assert_eq!(config.connect_timeout, Some(CONNECT_TIMEOUT));
        assert_eq!(config.read_timeout, Some(READ_TIMEOUT));
    }

    #[test]
    fn only_the_loopback_and_listed_registries_are_plain_http() {
        let plain = |text: &str, insecure: &[&str]| {
            let reference = PackageRef::parse(text).unwrap().reference;
            let insecure: Vec<String> = insecure.iter().map(|s| s.to_string()).collect();
            plain_http_registries(&reference, &insecure).contains(&reference.registry().to_owned())
        };
        for loopback in [
            "localhost/echo:1",
            "localhost:5000/echo:1",
            "127.0.0.1:5000/echo:1",
        ] {
            assert!(plain(loopback, &[]), "{loopback}");
        }
        // The reference grammar has no IPv6 literal; the host rule still knows `[::1]`.
        assert!(is_loopback("[::1]:5000") && is_loopback("[::1]"));
        assert!(!is_loopback("[::2]:5000") && !is_loopback("localhost.evil.com:5000"));
        for tls in [
            "localhost.evil.com/echo:1",
            "localhost.evil.com:5000/echo:1",
            "127.0.0.1.nip.io/echo:1",
            "127.0.0.1.nip.io:5000/echo:1",
            "ghcr.io/acme/echo:1",
        ] {
            assert!(!plain(tls, &[]), "{tls} must use TLS");
        }
        assert!(plain(
            "127.0.0.1.nip.io:5000/echo:1",
            &["127.0.0.1.nip.io:5000"]
        ));
        assert!(!plain(
            "127.0.0.1.nip.io:5000/echo:1",
            &["127.0.0.1.nip.io:5001"]
        ));
    }

    #[test]
    fn a_reference_must_name_its_registry() {
        for bad in ["vendor/echo:1", "echo", "acme/tools/echo@sha256:00"] {
            let err = PackageRef::parse(bad).unwrap_err().to_string();
            assert!(err.contains("not a registry host"), "{bad}: {err}");
        }
        for good in [
            "localhost:5000/acme/echo:1",
            "localhost/echo:1",
            "ghcr.io/acme/echo:1.2",
            "127.0.0.1:5000/echo:1",
        ] {
            assert!(PackageRef::parse(good).is_ok(), "{good}");
        }
    }
}
