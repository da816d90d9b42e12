//! The unpacked skills of the package cache, `<cache>/skills/sha256-<manifest hex>/<id>/`: a
//! folder is reused only after it is verified against the digest-verified content layer (the
//! same files with the same SHA-256, no file added, removed or changed, no link); a folder that
//! does not match is replaced by a fresh unpacking, never loaded. Unpacking goes into a unique
//! temporary folder beside the destination and is renamed into place when complete, so
//! concurrent pulls (threads or processes) never share a partial folder.

use std::path::{Path, PathBuf};

use crate::blobs::sha256_hex;
use crate::error::PackageError;
use crate::limits::Limits;
use crate::reference::PackageRef;
use crate::unpack::{folder_listing, layer_listing, unpack, would_build_on_host, Refusal};

/// The verified unpacked folder `<cache>/skills/sha256-<hex>/<id>` of `layer` (a blob that
/// must hash to `layer_digest`; it is hashed again through the one handle it is then listed
/// and unpacked from, so a file swapped after the check is never unpacked): reused when its
/// files match the layer's and it is a loadable skill, else unpacked anew. Errors name the
/// reference, the digest and the entry at fault.
pub(crate) fn unpacked(
    layer: &Path,
    layer_digest: &str,
    reference: &PackageRef,
    digest: &str,
    id: &str,
    cache: &Path,
    limits: &Limits,
) -> Result<PathBuf, PackageError> {
    let hostile = |refusal: Refusal| PackageError::Hostile {
        reference: reference.written.clone(),
        digest: digest.to_owned(),
        entry: refusal.entry,
        reason: refusal.reason,
    };
    let parent = entry_dir(cache, digest);
    let dest = parent.join(id);
    let mut file = LayerFile::open(layer, layer_digest, limits)?;
    let expected = layer_listing(file.read()?, limits).map_err(hostile)?;
    if dest.exists() {
        if folder_listing(&dest).as_ref() == Some(&expected) {
            // A reused folder passes the same load-safety checks as a fresh unpacking.
            usable(&dest).map_err(hostile)?;
            return Ok(dest);
        }
        tracing::warn!(
            folder = %dest.display(),
            digest,
            "cached skill folder does not match its verified layer: unpacking it again"
        );
        discard(&parent, &dest)?;
    }
    std::fs::create_dir_all(&parent).map_err(|e| PackageError::io(&parent, "creating", e))?;
    let scratch = tempfile::Builder::new()
        .prefix(".partial-")
        .tempdir_in(&parent)
        .map_err(|e| PackageError::io(&parent, "creating a temporary folder in", e))?;
    let partial = scratch.path().join(id);
    unpack(file.read()?, &partial, limits).map_err(hostile)?;
    usable(&partial).map_err(hostile)?;
    if std::fs::rename(&partial, &dest).is_err() {
        // Another pull put the same digest in place first: use it if it verifies.
        if folder_listing(&dest).as_ref() != Some(&expected) {
            return Err(PackageError::io(
                &dest,
                "verifying (changed while unpacking)",
                std::io::Error::other("the folder does not match its verified layer"),
            ));
        }
    }
    Ok(dest)
}

/// Moves a folder that failed verification out of the way (into a unique name, then removes
/// it), so nothing can load it in between.
fn discard(parent: &Path, dest: &Path) -> Result<(), PackageError> {
    let trash = tempfile::Builder::new()
        .prefix(".stale-")
        .tempdir_in(parent)
        .map_err(|e| PackageError::io(parent, "creating a temporary folder in", e))?;
    let target = trash.path().join("old");
    match std::fs::rename(dest, &target) {
        Ok(()) => Ok(()),
        // Another pull moved it first.
        Err(_) if !dest.exists() => Ok(()),
        Err(e) => Err(PackageError::io(dest, "removing a stale cached folder", e)),
    }
}

/// A freshly unpacked folder is a skill the runtime may load: `SKILL.md` at its top, and no
/// Rust crate that would be built on the host.
fn usable(partial: &Path) -> Result<(), Refusal> {
    if !partial.join("SKILL.md").is_file() {
        return Err(Refusal {
            entry: "SKILL.md".to_owned(),
            reason: "is missing: a skill package holds SKILL.md at its top".to_owned(),
        });
    }
    if would_build_on_host(partial) {
        return Err(Refusal {
            entry: "Cargo.toml".to_owned(),
            reason: "is a Rust crate with no built component: a pulled package is never \
                     built on the host (its build scripts would run outside the sandbox); \
                     push it with its built `tool.wasm`"
                .to_owned(),
        });
    }
    Ok(())
}

/// The folder of one cache entry (`<cache>/skills/sha256-<hex>`), where its verified
/// signature record is kept beside the unpacked skill.
pub(crate) fn entry_dir(cache: &Path, digest: &str) -> PathBuf {
    let hex = sha256_hex(digest).unwrap_or("unknown");
    cache.join("skills").join(format!("sha256-{hex}"))
}

/// A layer blob opened once and hashed through that handle; each [`LayerFile::read`] rewinds
/// the same handle, so what is listed and unpacked is what was hashed.
struct LayerFile<'a> {
    path: &'a Path,
    file: std::fs::File,
}

impl<'a> LayerFile<'a> {
    /// Opens `path` (a regular file of at most `max_layer_bytes`) and checks it hashes to
    /// `digest`; a mismatch is [`PackageError::DigestMismatch`].
    fn open(path: &'a Path, digest: &str, limits: &Limits) -> Result<Self, PackageError> {
        use sha2::Digest as _;
        use std::io::Read as _;
        let io = |e| PackageError::io(path, "reading", e);
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mut hasher = sha2::Sha256::new();
        let mut limited = (&mut file).take(limits.max_layer_bytes.saturating_add(1));
        let read = std::io::copy(&mut limited, &mut hasher).map_err(io)?;
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if read > limits.max_layer_bytes || actual != digest {
            return Err(PackageError::DigestMismatch {
                reference: path.display().to_string(),
                what: "the cached content layer".to_owned(),
                expected: digest.to_owned(),
                actual,
            });
        }
        Ok(LayerFile { path, file })
    }

    /// The same handle, rewound, buffered.
    fn read(&mut self) -> Result<std::io::BufReader<&std::fs::File>, PackageError> {
        use std::io::Seek as _;
        self.file
            .rewind()
            .map_err(|e| PackageError::io(self.path, "reading", e))?;
        Ok(std::io::BufReader::new(&self.file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar.gz layer holding `files` (path, bytes).
    fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        for (path, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, path, *bytes)
                .expect("tar entry");
        }
        tar.into_inner().expect("tar").finish().expect("gzip")
    }

    #[test]
    fn a_reused_cached_folder_must_be_loadable_like_a_fresh_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files: [(&str, &[u8]); 2] = [
            ("SKILL.md", b"---\nname: ver\n---\n"),
            ("Cargo.toml", b"[package]\nname = \"ver\"\n"),
        ];
        let bytes = layer(&files);
        let layer_digest = crate::blobs::digest_of(&bytes);
        let layer_path = dir.path().join("layer");
        std::fs::write(&layer_path, &bytes).expect("layer");
        let digest = format!("sha256:{}", "c".repeat(64));
        let reference =
            PackageRef::parse(&format!("127.0.0.1:9/acme/ver@{digest}")).expect("reference");
        let cache = dir.path().join("cache");
        let limits = Limits::default();
        let fresh = unpacked(
            &layer_path,
            &layer_digest,
            &reference,
            &digest,
            "ver",
            &cache,
            &limits,
        );
        assert!(
            matches!(fresh, Err(PackageError::Hostile { .. })),
            "{fresh:?}"
        );
        // The same content placed in the cache (matching the layer's listing) is refused too.
        let dest = entry_dir(&cache, &digest).join("ver");
        std::fs::create_dir_all(&dest).expect("folder");
        for (path, bytes) in files {
            std::fs::write(dest.join(path), bytes).expect("file");
        }
        let reused = unpacked(
            &layer_path,
            &layer_digest,
            &reference,
            &digest,
            "ver",
            &cache,
            &limits,
        );
        assert!(
            matches!(reused, Err(PackageError::Hostile { .. })),
            "{reused:?}"
        );
        // A layer file that no longer hashes to its digest is refused before unpacking.
        std::fs::write(&layer_path, layer(&files[..1])).expect("layer");
        let swapped = unpacked(
            &layer_path,
            &layer_digest,
            &reference,
            &digest,
            "ver",
            &cache,
            &limits,
        );
        assert!(
            matches!(swapped, Err(PackageError::DigestMismatch { .. })),
            "{swapped:?}"
        );
    }
}
