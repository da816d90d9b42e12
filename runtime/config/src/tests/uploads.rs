//! Tests for the `uploads` section (issue 18): defaults when absent, every key read, and
//! every unusable value — null, not a size, out of range, a near-miss key, a non-mapping
//! section — an error naming config.yaml and the key, never a default.

use super::{error, parse};
use crate::UploadsConfig;

#[test]
fn absent_means_the_defaults_and_every_key_is_read() {
    let c = parse("name: x\n");
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(c.uploads, UploadsConfig::default());
    let c = parse(
        "uploads: {max_file_bytes: 1m, max_context_bytes: 10m, max_context_files: 7, \
         max_total_bytes: 2g, max_contexts: 9, retention: 36h}\n",
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(
        c.uploads,
        UploadsConfig {
            max_file_bytes: 1 << 20,
            max_context_bytes: 10 << 20,
            max_context_files: 7,
            max_total_bytes: 2 << 30,
            max_contexts: 9,
            retention: std::time::Duration::from_secs(36 * 3600),
        }
    );
    assert_eq!(
        parse("name: x\n").uploads.retention,
        std::time::Duration::from_secs(7 * 86_400),
        "the documented default is 7d"
    );
}

#[test]
fn unusable_values_fail_closed_naming_file_and_key() {
    for (yaml, key) in [
        ("uploads: {max_file_bytes: ~}\n", "uploads.max_file_bytes"),
        (
            "uploads: {max_file_bytes: lots}\n",
            "uploads.max_file_bytes",
        ),
        ("uploads: {max_file_bytes: 65m}\n", "uploads.max_file_bytes"),
        (
            "uploads: {max_context_bytes: -1}\n",
            "uploads.max_context_bytes",
        ),
        (
            "uploads: {max_context_files: 0}\n",
            "uploads.max_context_files",
        ),
        (
            "uploads: {max_context_files: ~}\n",
            "uploads.max_context_files",
        ),
        ("uploads: {max_file_bytes: 0}\n", "uploads.max_file_bytes"),
        ("uploads: {max_total_bytes: ~}\n", "uploads.max_total_bytes"),
        (
            "uploads: {max_total_bytes: big}\n",
            "uploads.max_total_bytes",
        ),
        ("uploads: {max_contexts: 0}\n", "uploads.max_contexts"),
        ("uploads: {max_contexts: ~}\n", "uploads.max_contexts"),
        ("uploads: {max_context: 5}\n", "uploads.max_context"),
        ("uploads: {max_file_byte: 1m}\n", "uploads.max_file_byte"),
        (
            "uploads: {Max_Context_Files: 3}\n",
            "uploads.Max_Context_Files",
        ),
        ("uploads: [1]\n", "uploads"),
        ("uploads: {retention: ~}\n", "uploads.retention"),
        ("uploads: {retention: forever}\n", "uploads.retention"),
        ("uploads: {retention: 7w}\n", "uploads.retention"),
        ("uploads: {retention: 0}\n", "uploads.retention"),
        ("uploads: {retention: 30s}\n", "uploads.retention"),
        ("uploads: {retention: 3651d}\n", "uploads.retention"),
        ("uploads: {retension: 7d}\n", "uploads.retension"),
    ] {
        let c = parse(yaml);
        let e = error(&c, key);
        assert!(
            e.file
                .as_deref()
                .is_some_and(|f| f.ends_with("config.yaml")),
            "{yaml}: {e}"
        );
        assert_eq!(c.uploads, UploadsConfig::default(), "{yaml}");
    }
    let c = parse("uploads: {max_file_byte: 1m}\n");
    let e = error(&c, "uploads.max_file_byte");
    assert!(e.message.contains("max_file_bytes"), "{e}");
}
