//! Tests for `a2a.card_signing` and `a2a.trusted_card_keys`, security settings that fail
//! closed: read when complete (relative key files resolved against the config folder), and an
//! incomplete entry or a key file that is missing or not a file is an error naming the key
//! and the resolved path; absent means off.

use std::path::Path;

use super::{error, no_env, parse};
use crate::{CardSigningConfig, TrustedCardKey, WorkspaceConfig};

fn parse_in(dir: &Path, yaml: &str) -> WorkspaceConfig {
    WorkspaceConfig::from_yaml_str(yaml, dir, &no_env())
}

#[test]
fn card_keys_are_read_and_relative_files_resolve_against_the_config_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("keys")).expect("mkdir");
    std::fs::write(dir.path().join("keys/card.pem"), "pem").expect("write");
    let abs = dir.path().join("peer1.pub.pem");
    std::fs::write(&abs, "pem").expect("write");
    let yaml = format!(
        "a2a:\n  card_signing: {{key_file: keys/card.pem, kid: card-1}}\n  trusted_card_keys:\n    - {{kid: peer-1, key_file: {}}}\n",
        abs.display()
    );
    let c = parse_in(dir.path(), &yaml);
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(
        c.a2a.card_signing,
        Some(CardSigningConfig {
            key_file: dir.path().join("keys/card.pem").display().to_string(),
            kid: "card-1".into()
        })
    );
    assert_eq!(
        c.a2a.trusted_card_keys,
        vec![TrustedCardKey {
            kid: "peer-1".into(),
            key_file: abs.display().to_string()
        }]
    );
    let none = parse("");
    assert_eq!(none.a2a.card_signing, None);
    assert!(none.a2a.trusted_card_keys.is_empty());
}

#[test]
fn incomplete_card_keys_are_errors_not_an_unsigned_card() {
    let c =
        parse("a2a:\n  card_signing: {key_file: /k/card.pem}\n  trusted_card_keys: [{kid: p}]\n");
    assert_eq!(c.a2a.card_signing, None);
    let signing = error(&c, "a2a.card_signing");
    assert!(signing.message.contains("`kid`"), "{signing:?}");
    assert_eq!(signing.line, Some(2));
    assert!(c.a2a.trusted_card_keys.is_empty());
    let trusted = error(&c, "a2a.trusted_card_keys[0]");
    assert!(trusted.message.contains("`key_file`"), "{trusted:?}");
}

#[test]
fn a_missing_or_non_file_key_is_an_error_naming_the_resolved_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("a-dir")).expect("mkdir");
    let c = parse_in(
        dir.path(),
        "a2a:\n  card_signing: {key_file: missing.pem, kid: k}\n  trusted_card_keys: [{kid: p, key_file: a-dir}]\n",
    );
    assert_eq!(c.a2a.card_signing, None);
    let missing = error(&c, "a2a.card_signing.key_file");
    let expected = dir.path().join("missing.pem").display().to_string();
    assert!(missing.message.contains(&expected), "{missing:?}");
    let not_file = error(&c, "a2a.trusted_card_keys[0].key_file");
    assert!(
        not_file.message.contains("not a regular file"),
        "{not_file:?}"
    );
    assert!(c.a2a.trusted_card_keys.is_empty());
}

#[test]
fn card_keys_of_the_wrong_shape_are_errors() {
    let c = parse("a2a:\n  card_signing: /k/card.pem\n  trusted_card_keys: {kid: a}\n");
    assert_eq!(c.a2a.card_signing, None);
    assert!(error(&c, "a2a.card_signing").message.contains("mapping"));
    assert!(error(&c, "a2a.trusted_card_keys").message.contains("list"));
    let near = parse("a2a:\n  card_signing: {keyfile: /k/card.pem, kid: k1}\n");
    assert!(error(&near, "a2a.card_signing")
        .message
        .contains("`key_file`"));
}
