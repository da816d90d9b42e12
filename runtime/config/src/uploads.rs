//! The `uploads` section of config.yaml: how much of what A2A clients send as file parts the
//! workspace keeps (under `<data dir>/uploads/<context>/`). Every key is a limit on what a
//! remote client controls, so it fails closed: a value present but unusable (a null, text
//! that is not a size, a number out of range) or a near-miss key name is an error naming the
//! file and the key, never a default. `uploads.retention` says how long a context's files
//! are kept after its last upload.

use std::time::Duration;

use serde_yaml::Value;

use crate::keys::check_keys;
use crate::lenient::Reader;
use crate::sandbox::count_of;

/// The keys of `uploads`.
const KEYS: [&str; 6] = [
    "max_file_bytes",
    "max_context_bytes",
    "max_context_files",
    "max_total_bytes",
    "max_contexts",
    "retention",
];

/// Default `uploads.max_file_bytes`: 4 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 4 << 20;
/// Default `uploads.max_context_bytes`: 64 MiB.
pub const DEFAULT_MAX_CONTEXT_BYTES: u64 = 64 << 20;
/// Default `uploads.max_context_files`: 100.
pub const DEFAULT_MAX_CONTEXT_FILES: u64 = 100;
/// Default `uploads.max_total_bytes`: 1 GiB.
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 1 << 30;
/// Default `uploads.max_contexts`: 1000.
pub const DEFAULT_MAX_CONTEXTS: u64 = 1000;
/// Default `uploads.retention`: 7 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 86_400);
/// The shortest `uploads.retention` accepted: one minute (a shorter one could remove a
/// message's files between their upload and its task).
pub const MIN_RETENTION: Duration = Duration::from_secs(60);
/// The longest `uploads.retention` accepted: 3650 days.
pub const MAX_RETENTION: Duration = Duration::from_secs(3650 * 86_400);
/// The largest `uploads.max_file_bytes` accepted: 64 MiB (the A2A request body grows to fit
/// one such file, base64-encoded).
pub const MAX_FILE_BYTES_CEILING: u64 = 64 << 20;

/// `uploads`: limits on the files clients send (A2A file parts with bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadsConfig {
    /// `uploads.max_file_bytes`: the largest file part stored, in bytes (decoded): at least
    /// one byte, at most [`MAX_FILE_BYTES_CEILING`]; default [`DEFAULT_MAX_FILE_BYTES`].
    pub max_file_bytes: u64,
    /// `uploads.max_context_bytes`: the most all files of one context may hold, in bytes.
    /// Default [`DEFAULT_MAX_CONTEXT_BYTES`].
    pub max_context_bytes: u64,
    /// `uploads.max_context_files`: the most files one context may hold (1–100000). Default
    /// [`DEFAULT_MAX_CONTEXT_FILES`].
    pub max_context_files: u64,
    /// `uploads.max_total_bytes`: the most all uploads of the workspace (every context) may
    /// hold, in bytes. Default [`DEFAULT_MAX_TOTAL_BYTES`].
    pub max_total_bytes: u64,
    /// `uploads.max_contexts`: the most contexts that may hold uploads (1–1000000). Default
    /// [`DEFAULT_MAX_CONTEXTS`].
    pub max_contexts: u64,
    /// `uploads.retention`: how long a context's files are kept after its last upload (the
    /// modification time of its index) when no unfinished task of the context needs them;
    /// [`MIN_RETENTION`] to [`MAX_RETENTION`]; default [`DEFAULT_RETENTION`].
    pub retention: Duration,
}

impl Default for UploadsConfig {
    fn default() -> Self {
        UploadsConfig {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_context_bytes: DEFAULT_MAX_CONTEXT_BYTES,
            max_context_files: DEFAULT_MAX_CONTEXT_FILES,
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
            max_contexts: DEFAULT_MAX_CONTEXTS,
            retention: DEFAULT_RETENTION,
        }
    }
}

impl UploadsConfig {
    pub(crate) fn read(r: &mut Reader<'_>, v: Option<&Value>) -> UploadsConfig {
        let mut out = UploadsConfig::default();
        let holds = "the limits on files clients upload";
        let Some(v) = r.secure_mapping(v, "uploads", holds) else {
            return out;
        };
        check_keys(r, v, "uploads", &KEYS, &KEYS, &[]);
        let key = "uploads.max_file_bytes";
        if let Some(n) = r.limit_bytes(v.get("max_file_bytes"), key) {
            if n > MAX_FILE_BYTES_CEILING {
                let problem = format!("{n} bytes is above the ceiling of {MAX_FILE_BYTES_CEILING}");
                r.fail(key, &v["max_file_bytes"], refused(&problem));
            } else {
                out.max_file_bytes = n;
            }
        }
        let key = "uploads.max_context_bytes";
        if let Some(n) = r.limit_bytes(v.get("max_context_bytes"), key) {
            out.max_context_bytes = n;
        }
        let key = "uploads.max_context_files";
        if let Some(value) = v.get("max_context_files") {
            match count_of(r, value, 1, 100_000) {
                Ok(n) => out.max_context_files = n,
                Err(e) => r.fail(key, value, e),
            }
        }
        let key = "uploads.max_total_bytes";
        if let Some(n) = r.limit_bytes(v.get("max_total_bytes"), key) {
            out.max_total_bytes = n;
        }
        let key = "uploads.max_contexts";
        if let Some(value) = v.get("max_contexts") {
            match count_of(r, value, 1, 1_000_000) {
                Ok(n) => out.max_contexts = n,
                Err(e) => r.fail(key, value, e),
            }
        }
        if let Some(d) = r.limit_duration(v.get("retention"), "uploads.retention") {
            if (MIN_RETENTION..=MAX_RETENTION).contains(&d) {
                out.retention = d;
            } else {
                let problem = format!(
                    "{} is outside 1m to 3650d",
                    crate::units::format_duration(d)
                );
                r.fail("uploads.retention", &v["retention"], refused(&problem));
            }
        }
        out
    }
}

fn refused(problem: &str) -> String {
    format!(
        "{problem}; a limit out of range is not clamped or replaced by a default: write a \
         smaller value, or remove the key to use the default"
    )
}
