//! Tests for the `packages` section: every key read, the `require` default, and every
//! unusable value, null or near-miss key an error naming the key (fail closed).

use super::{error, parse};
use crate::{package_skill_id, SignaturePolicy};

#[test]
fn keys_are_read_and_paths_resolve_against_the_config_folder() {
    let c = parse(
        "packages:\n  signatures: warn\n  trusted_keys: [keys/a.pub]\n  cache_dir: cache\n  insecure_registries: [reg.internal:5000]\n",
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let p = &c.packages;
    assert_eq!(p.signatures, SignaturePolicy::Warn);
    assert!(p.trusted_keys[0].ends_with("keys/a.pub"));
    assert!(p.cache_dir.as_ref().unwrap().ends_with("cache"));
    assert_eq!(p.insecure_registries, ["reg.internal:5000"]);
}

#[test]
fn the_signature_policy_defaults_to_require() {
    assert_eq!(
        parse("name: x\n").packages.signatures,
        SignaturePolicy::Require
    );
    assert_eq!(
        parse("packages: {}\n").packages.signatures,
        SignaturePolicy::Require
    );
}

#[test]
fn unusable_values_and_near_misses_are_errors_naming_the_key() {
    for (yaml, key) in [
        ("packages:\n  signatures: Require\n", "packages.signatures"),
        ("packages:\n  signatures: ~\n", "packages.signatures"),
        ("packages:\n  signatures: true\n", "packages.signatures"),
        (
            "packages:\n  trusted_keys: keys/a.pub\n",
            "packages.trusted_keys",
        ),
        (
            "packages:\n  trusted_keys: [3]\n",
            "packages.trusted_keys[0]",
        ),
        ("packages:\n  trusted_keys:\n", "packages.trusted_keys"),
        ("packages:\n  cache_dir: \"\"\n", "packages.cache_dir"),
        (
            "packages:\n  insecure_registries: [{}]\n",
            "packages.insecure_registries[0]",
        ),
        ("packages:\n  signature: off\n", "packages.signature"),
        (
            "packages:\n  trusted-keys: [a.pub]\n",
            "packages.trusted-keys",
        ),
        ("packages: require\n", "packages"),
        ("Packages:\n  signatures: off\n", "Packages"),
    ] {
        let c = parse(yaml);
        let e = error(&c, key);
        assert!(e.to_string().contains("config.yaml"), "{yaml}: {e}");
        assert_eq!(c.packages.signatures, SignaturePolicy::Require, "{yaml}");
    }
}

#[test]
fn a_reference_loads_as_the_last_component_of_its_repository() {
    assert_eq!(
        package_skill_id("127.0.0.1:5000/acme/echo@sha256:ab"),
        "echo"
    );
    assert_eq!(package_skill_id("ghcr.io/acme/echo:1.2"), "echo");
    assert_eq!(package_skill_id("localhost:5000/echo"), "echo");
}
