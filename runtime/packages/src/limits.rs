//! [`Limits`]: the budgets a pulled package is held to. A package is untrusted input: its
//! manifest, its blobs and what its content layer unpacks to are all bounded.

/// Budgets for one package (bytes, counts). The defaults suit a skill: a component or its
/// source plus a few data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest manifest read, in bytes (default 64 KiB; a skill manifest is under 1 KiB).
    pub max_manifest_bytes: u64,
    /// The largest config blob, in bytes (default 64 KiB).
    pub max_config_bytes: u64,
    /// The largest content layer as stored (compressed), in bytes (default 64 MiB).
    pub max_layer_bytes: u64,
    /// The most bytes the content layer may unpack to, summed over its files (default 128 MiB).
    pub max_unpacked_bytes: u64,
    /// The most entries (files and folders) the content layer may hold (default 2,000).
    pub max_entries: u64,
    /// The deepest folder nesting of an entry (default 32).
    pub max_depth: usize,
    /// The most bytes the content layer may decompress to, counted while streaming: tar
    /// headers, PAX and GNU extension headers (long names) and contents (default 136 MiB:
    /// [`Limits::max_unpacked_bytes`] plus 8 MiB of headers). Bounds a decompression bomb and
    /// the memory the tar reader spends on extension headers.
    pub max_decompressed_bytes: u64,
    /// The longest entry path, in bytes, after PAX/GNU long-name extensions (default 4,096).
    pub max_path_bytes: usize,
    /// The most layers a cosign `.sig` manifest may list (default 16).
    pub max_signature_layers: usize,
    /// The largest cosign signature layer (its simple-signing payload), in bytes (default 64 KiB).
    pub max_signature_layer_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_manifest_bytes: 64 << 10,
            max_config_bytes: 64 << 10,
            max_layer_bytes: 64 << 20,
            max_unpacked_bytes: 128 << 20,
            max_entries: 2_000,
            max_depth: 32,
            max_decompressed_bytes: (128 << 20) + (8 << 20),
            max_path_bytes: 4096,
            max_signature_layers: 16,
            max_signature_layer_bytes: 64 << 10,
        }
    }
}
