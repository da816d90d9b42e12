//! [`PackageError`]: everything that can go wrong packing, pushing, pulling, verifying or
//! unpacking a skill package. Every message names what to look at: the file, the reference,
//! the digest, the key.

use std::path::PathBuf;

/// An error about a skill package. `Display` is one sentence (or two) that says what is wrong
/// and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// A file or folder could not be read or written.
    #[error("{path}: {what}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What was being done (`reading`, `writing`, …).
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// The skill folder cannot be packed (no SKILL.md, a symbolic link, too big, …).
    #[error("{path}: cannot pack: {reason}")]
    Pack {
        /// The file or folder at fault.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The reference does not parse as an OCI reference.
    #[error("`{reference}` is not an OCI reference ({reason}); write it as registry/repository:tag or registry/repository@sha256:<64 hex digits>")]
    Reference {
        /// The reference as written.
        reference: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The registry answered with an error, or could not be reached.
    #[error("registry error for {reference}: {reason}")]
    Registry {
        /// The reference.
        reference: String,
        /// The client's error text.
        reason: String,
    },
    /// Content did not hash to the digest that names it: the registry (or the cache) served
    /// something else than was pinned or described.
    #[error("{reference}: {what} does not match its digest: expected {expected}, got {actual}; the artifact was changed after it was pinned or pushed, refusing it")]
    DigestMismatch {
        /// The reference.
        reference: String,
        /// What was checked (`the manifest`, `blob sha256:…`).
        what: String,
        /// The digest that was expected.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// The artifact is not a usable skill package (wrong media types, a bad config, …).
    #[error("{reference} (digest {digest}) is not a usable skill package: {reason}")]
    Invalid {
        /// The reference.
        reference: String,
        /// The manifest digest.
        digest: String,
        /// Why.
        reason: String,
    },
    /// The package's content is hostile or over a limit (path traversal, absolute path,
    /// symbolic link, device, too big, too many files).
    #[error("{reference} (digest {digest}) refused: entry `{entry}` {reason}")]
    Hostile {
        /// The reference.
        reference: String,
        /// The manifest digest.
        digest: String,
        /// The tar entry (escaped).
        entry: String,
        /// Why.
        reason: String,
    },
    /// Signature policy `require` and no trusted key verifies a signature over the digest.
    #[error("{reference} (digest {digest}) refused by packages.signatures `require`: {reason}; expected a cosign signature at tag {signature_tag} by one of: {expected_keys}")]
    SignatureRefused {
        /// The reference.
        reference: String,
        /// The manifest digest the signature must cover.
        digest: String,
        /// The tag where cosign stores signatures (`sha256-<hex>.sig`).
        signature_tag: String,
        /// Why (no signature, no key verifies, …).
        reason: String,
        /// The trusted keys, each as `file (sha256:<fingerprint>)`, or a note that none is
        /// configured.
        expected_keys: String,
    },
    /// Two `skills:` entries would load as the same skill id (two packages, or a package and
    /// a local skill folder): a config error naming both.
    #[error("{config}: `skills`: skill id `{id}` is given twice, by {first} and by {second}; a package loads as the last component of its repository: remove one or push it under another name")]
    DuplicateSkill {
        /// The config file.
        config: String,
        /// The skill id both would load as.
        id: String,
        /// The first source (a reference or a folder).
        first: String,
        /// The second source.
        second: String,
    },
    /// A key file is not a usable PEM key.
    #[error("{path}: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl PackageError {
    /// An [`PackageError::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, what: &'static str, source: std::io::Error) -> Self {
        PackageError::Io {
            path: path.into(),
            what,
            source,
        }
    }
}
