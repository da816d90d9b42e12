//! [`SkillOrigin`]: where a loaded skill package came from — the reference as written, the
//! manifest digest it was verified at, and what its signature check found. A small public
//! record for `check`, logs and `inspect`.

use crate::signatures::SignatureStatus;

/// Where a skill package came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SkillOrigin {
    /// The OCI reference as config.yaml (or the command line) wrote it.
    pub reference: String,
    /// The manifest digest (`sha256:<hex>`) the content was verified against.
    pub digest: String,
    /// Whether the reference pinned that digest (`false`: a tag, resolved at pull time).
    pub pinned: bool,
    /// The signature check's outcome.
    pub signature: SignatureStatus,
}
