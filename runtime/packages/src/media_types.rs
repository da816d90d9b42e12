//! The media types of a skill package (an OCI artifact, OCI image-spec v1.1 "artifact"
//! guidance): the manifest's `artifactType`, its config blob and its one content layer, and the
//! annotations written on the manifest. Described for people in the crate's README.md.

/// The manifest's `artifactType`: this artifact is a molecule skill package, version 1.
pub const ARTIFACT_TYPE: &str = "application/vnd.molecule.skill.v1";

/// The config blob: JSON ([`crate::SkillConfig`]) naming the skill, its kind (`wasm`, `rust`,
/// `python`, `javascript`) and the capabilities its `SKILL.md` requests.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.molecule.skill.config.v1+json";

/// The content layer: the skill folder (SKILL.md, the component or its source, any data
/// files) as a gzip-compressed POSIX tar of regular files and folders only.
pub const CONTENT_MEDIA_TYPE: &str = "application/vnd.molecule.skill.content.v1.tar+gzip";

/// The OCI image manifest media type (OCI image-spec `manifest.md`).
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// Manifest annotation: the skill's name (OCI pre-defined annotation key).
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";

/// Manifest annotation: the skill's description (OCI pre-defined annotation key).
pub const DESCRIPTION_ANNOTATION: &str = "org.opencontainers.image.description";
