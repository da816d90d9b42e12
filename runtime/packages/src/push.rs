//! `push`: a skill folder packed ([`crate::pack`]) and pushed as one OCI artifact — an OCI
//! image manifest (image-spec v1.1) with `artifactType` [`ARTIFACT_TYPE`], our config blob and
//! one content layer — through `oci-client`.

use std::collections::BTreeMap;
use std::path::Path;

use http::HeaderValue;
use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::OciImageManifest;

use crate::blobs::digest_of;
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
/// in `insecure` over plain HTTP). Returns the manifest digest computed here from the manifest
/// bytes sent; a registry that then reports another digest for the tag is a
/// [`PackageError::DigestMismatch`].
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
    // The digest is ours: the SHA-256 of the very manifest bytes we send. What the registry
    // reports is only compared with it, never used (a lying registry must not get us to pin,
    // or `--sign-key` to sign, another digest).
    let body = serde_json::to_vec(&manifest)
        .map_err(|e| registry_error(format!("cannot serialise the manifest: {e}")))?;
    let digest = digest_of(&body);
    let client = client(&reference.reference, insecure);
    let auth = crate::auth::for_reference(&reference.reference)?;
    client
        .store_auth_if_needed(reference.reference.resolve_registry(), &auth)
        .await;
    for (data, descriptor) in [
        (&packed.layer, &manifest.layers[0]),
        (&packed.config_blob, &manifest.config),
    ] {
        client
            .push_blob(&reference.reference, data.clone(), &descriptor.digest)
            .await
            .map_err(|e| registry_error(e.to_string()))?;
    }
    let content_type = HeaderValue::from_static(MANIFEST_MEDIA_TYPE);
    client
        .push_manifest_raw(&reference.reference, body, content_type)
        .await
        .map_err(|e| registry_error(e.to_string()))?;
    let reported = client
        .fetch_manifest_digest(&reference.reference, &auth)
        .await
        .map_err(|e| registry_error(e.to_string()))?;
    if reported != digest {
        return Err(PackageError::DigestMismatch {
            reference: reference.written.clone(),
            what: "the manifest the registry reports after the push".to_owned(),
            expected: digest,
            actual: reported,
        });
    }
    let pinned = reference.pinned(&digest).whole();
    Ok(Pushed {
        digest,
        pinned,
        packed,
    })
}
