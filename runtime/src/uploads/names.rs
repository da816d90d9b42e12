//! Names on disk for what clients send: a context's folder name and a file's stored name,
//! both derived from client text and made safe (no path separators, no `..`, no control or
//! shell-special characters, bounded length), and the check of a file part's media type
//! (RFC 6838 §4.2 `type/subtype` restricted names; parameters are not kept).

use sha2::{Digest, Sha256};

/// The longest stored file name, in bytes (the extension is kept within it).
pub const MAX_NAME_BYTES: usize = 100;
/// The longest context id used as a folder name as is; longer ones are hashed.
const MAX_CONTEXT_NAME: usize = 64;
/// The longest media type accepted, in bytes (RFC 6838 §4.2: 127 per side).
const MAX_MEDIA_TYPE: usize = 255;

/// The folder name of `context_id`: the id itself when it is 1–64 characters of
/// `[A-Za-z0-9_-]`, else `ctx-` and the hex SHA-256 of the id (so two ids never share a
/// folder, and no id reaches outside the uploads root).
pub fn context_dir_name(context_id: &str) -> String {
    let plain = !context_id.is_empty()
        && context_id.len() <= MAX_CONTEXT_NAME
        && !context_id.starts_with("ctx-")
        && context_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        context_id.to_owned()
    } else {
        format!("ctx-{}", hex::encode(Sha256::digest(context_id.as_bytes())))
    }
}

/// A safe file name for a client's `filename`: its last path segment (either separator),
/// every character outside `[A-Za-z0-9._-]` replaced by `_`, leading dots removed (no hidden
/// files, no `..`), cut to [`MAX_NAME_BYTES`] keeping the extension; `upload` when nothing
/// is left.
pub fn safe_file_name(filename: Option<&str>) -> String {
    let given = filename.unwrap_or("");
    let last = given.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '_') {
        return "upload".to_owned();
    }
    cut(cleaned)
}

/// `name` cut to [`MAX_NAME_BYTES`], its extension (up to 16 bytes) kept.
fn cut(name: &str) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name.to_owned();
    }
    let ext = name
        .rfind('.')
        .map(|i| &name[i..])
        .filter(|e| e.len() <= 16)
        .unwrap_or("");
    let stem = &name[..MAX_NAME_BYTES - ext.len()];
    format!("{stem}{ext}")
}

/// `name` with `-<n>` before its extension (`report.pdf` → `report-2.pdf`), for the `n`th
/// file of the same name in one context.
pub fn numbered(name: &str, n: usize) -> String {
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    let suffix = format!("-{n}");
    let room = MAX_NAME_BYTES.saturating_sub(suffix.len() + ext.len());
    let stem = &stem[..stem.len().min(room)];
    format!("{stem}{suffix}{ext}")
}

/// The media type to keep for a part: `application/octet-stream` when the client gave none;
/// the lower-cased `type/subtype` (parameters dropped) when it is well formed; an error
/// saying what is wrong otherwise.
pub fn media_type(given: Option<&str>) -> Result<String, String> {
    let Some(given) = given.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok("application/octet-stream".to_owned());
    };
    let essence = given.split(';').next().unwrap_or("").trim();
    let restricted = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match essence.split_once('/') {
        Some((t, s)) if given.len() <= MAX_MEDIA_TYPE && restricted(t) && restricted(s) => {
            Ok(essence.to_ascii_lowercase())
        }
        _ => Err(format!(
            "`mediaType` `{}` is not a media type (type/subtype, RFC 6838)",
            crate::redact::escape(&given.chars().take(80).collect::<String>())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_never_leave_the_folder() {
        assert_eq!(safe_file_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(safe_file_name(Some("..\\..\\boot.ini")), "boot.ini");
        assert_eq!(safe_file_name(Some("..")), "upload");
        assert_eq!(safe_file_name(Some(".bashrc")), "bashrc");
        assert_eq!(safe_file_name(Some("a b;$(rm).txt")), "a_b___rm_.txt");
        assert_eq!(safe_file_name(None), "upload");
        assert_eq!(safe_file_name(Some("été.pdf")), "_t_.pdf");
        let long = format!("{}.csv", "x".repeat(300));
        let cut = safe_file_name(Some(&long));
        assert_eq!(cut.len(), MAX_NAME_BYTES);
        assert!(cut.ends_with(".csv"));
        assert_eq!(numbered("report.pdf", 2), "report-2.pdf");
        assert_eq!(numbered("README", 3), "README-3");
    }

    #[test]
    fn context_folders_are_the_id_or_its_hash() {
        assert_eq!(context_dir_name("ctx_1-a"), "ctx_1-a");
        for hostile in ["../x", "", "a/b", ".", "ctx-spoof", &"a".repeat(65)] {
            let name = context_dir_name(hostile);
            assert!(
                name.starts_with("ctx-") && name.len() == 68,
                "{hostile}: {name}"
            );
        }
        assert_ne!(context_dir_name("../x"), context_dir_name("../y"));
    }

    #[test]
    fn media_types_are_checked() {
        assert_eq!(media_type(None).unwrap(), "application/octet-stream");
        assert_eq!(
            media_type(Some("Text/Plain; charset=utf-8")).unwrap(),
            "text/plain"
        );
        assert!(media_type(Some("text")).is_err());
        assert!(media_type(Some("text/pl ain")).is_err());
        assert!(media_type(Some("a/b\n")).is_ok(), "trimmed");
        assert!(media_type(Some("a\u{0}/b")).is_err());
    }
}
