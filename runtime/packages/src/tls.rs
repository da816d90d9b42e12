//! The TLS crypto provider: `oci-client` is built with rustls and no provider of its own
//! (`rustls-tls-no-provider`), so the workspace's one provider, `ring`, is installed as the
//! process default before the first client is made.

/// Installs rustls' `ring` provider as the process default, once; a provider some other part
/// of the process installed first is kept.
pub(crate) fn install_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
