//! `push`: a skill folder packed ([`crate::pack`]) and pushed as one OCI artifact — an OCI
//! image manifest (image-spec v1.1) with `artifactType` [`ARTIFACT_TYPE`], our config blob and
//! one content layer — through `oci-client`.

use std::collections::BTreeMap;
use std::path::Path;

use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;

use crate::error::PackageError;
use crate::limits::Limits;
use crate::media_types::{
    ARTIFACT_TYPE, CONFIG_MEDIA_TYPE, CONTENT_MEDIA_TYPE, DESCRIPTION_ANNOTATION,
    MANIFEST_MEDIA_TYPE, TITLE_ANNOTATION,
};
use crate::pack::{pack, Packed};
use crate::reference::{client, PackageRef};

/// What a push stored.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The manifest digest (`sha256:<hex>`): pin the package with `<repository>@<digest>`.
    pub digest: String,
    /// The reference pinned by digest (`registry/repository@sha256:…`).
    pub pinned: String,
    /// What was packed.
    pub packed: Packed,
}

/// Packs `dir` and pushes it to `reference` (anonymous access; a registry on the loopback or
/// in `insecure` over plain HTTP). Returns the manifest digest as the registry stored it.
pub async fn push(
    dir: &Path,
    reference: &PackageRef,
    limits: &Limits,
    insecure: &[String],
) -> Result<Pushed, PackageError> {
    let packed = pack(dir, limits)?;
    push_packed(packed, reference, insecure).await
}

/// Pushes already packed blobs as one artifact (what [`push`] does after packing; tests use
/// it to push content a real pack would refuse).
pub async fn push_packed(
    packed: Packed,
    reference: &PackageRef,
    insecure: &[String],
) -> Result<Pushed, PackageError> {
    let registry_error = |reason: String| PackageError::Registry {
        reference: reference.written.clone(),
        reason,
    };
    let layers = [ImageLayer::new(
        packed.layer.clone(),
        CONTENT_MEDIA_TYPE.to_owned(),
        None,
    )];
    let config = Config::new(
        packed.config_blob.clone(),
        CONFIG_MEDIA_TYPE.to_owned(),
        None,
    );
    let annotations = BTreeMap::from([
        (TITLE_ANNOTATION.to_owned(), packed.config.name.clone()),
        (
            DESCRIPTION_ANNOTATION.to_owned(),
            packed.config.description.clone(),
        ),
    ]);
    let mut manifest = OciImageManifest::build(&layers, &config, Some(annotations));
    manifest.media_type = Some(MANIFEST_MEDIA_TYPE.to_owned());
    manifest.artifact_type = Some(ARTIFACT_TYPE.to_owned());
    let client = client(&reference.reference, insecure);
    client
        .push(
            &reference.reference,
            &layers,
            config,
            &RegistryAuth::Anonymous,
            Some(manifest),
        )
        .await
        .map_err(|e| registry_error(e.to_string()))?;
    let digest = client
        .fetch_manifest_digest(&reference.reference, &RegistryAuth::Anonymous)
        .await
        .map_err(|e| registry_error(e.to_string()))?;
    let pinned = reference.pinned(&digest).whole();
    Ok(Pushed {
        digest,
        pinned,
        packed,
    })
}
