//! molecule-packages: skill packages as OCI artifacts (README.md beside this crate describes
//! the format and the cache).
//!
//! - [`pack()`] a skill folder into a config blob and one content layer; [`push()`] it to a
//!   registry as one artifact (`artifactType` [`media_types::ARTIFACT_TYPE`]).
//! - [`pull()`] a reference into the content-addressed cache: the manifest checked against its
//!   pinned digest, the signature policy applied ([`signatures`]: cosign keyed signatures at
//!   `sha256-<hex>.sig`), every blob hashed, the content unpacked within [`Limits`] with no
//!   path leaving the package.
//! - [`SkillOrigin`]: where a loaded package came from (reference, digest, signature status).
//!
//! Registry traffic goes through `oci-client`; signatures through `sigstore`. A registry on
//! the loopback is reached over plain HTTP, every other over HTTPS unless listed as insecure.

#![warn(missing_docs)]

pub mod auth;
mod blobs;
mod cache;
pub mod error;
pub mod keys;
pub mod limits;
pub mod media_types;
mod offline;
pub mod origin;
pub mod pack;
pub mod pull;
pub mod push;
pub mod reference;
pub mod signature_record;
pub mod signatures;
#[cfg(feature = "test-registry")]
pub mod testing;
mod tls;
pub mod unpack;
mod verified;

pub use error::PackageError;
pub use keys::{generate_key_pair, TrustedKey};
pub use limits::Limits;
pub use origin::SkillOrigin;
pub use pack::{pack, Packed, SkillConfig};
pub use pull::{pull, PullOptions, PulledSkill};
pub use push::{push, push_packed, Pushed};
pub use reference::{is_reference, PackageRef};
pub use signatures::{sign, SignaturePolicy, SignatureStatus};
