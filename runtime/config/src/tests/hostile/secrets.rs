//! M3: inbound secrets that cannot be used (blank, or not sendable in an Authorization
//! header), from the environment or config.yaml, fail without echoing the secret.

use std::path::Path;

use super::parse_h;
use crate::tests::error;
use crate::{preflight, Env, Status};

// M3: secrets that cannot be used.

fn env_with_secret(value: &str) -> Env {
    Env::from_pairs([("MOLECULE_INBOUND_SECRET", value)])
}

#[test]
fn m3_a_blank_or_unsendable_env_secret_fails_naming_the_variable() {
    let c = parse_h("");
    for value in [
        " ",
        "\t",
        "  \n",
        "abc\n",
        " abc",
        "abc def",
        "pässwörd",
        "a\u{1b}b",
    ] {
        let report = preflight(
            &env_with_secret(value),
            &c,
            &["langgraph"],
            Path::new("/cfg"),
        );
        let fails: Vec<_> = report.with_status(Status::Fail).collect();
        assert_eq!(fails.len(), 1, "{value:?}: {report}");
        assert_eq!(fails[0].name, "MOLECULE_INBOUND_SECRET", "{report}");
        if !value.trim().is_empty() {
            assert!(!fails[0].detail.contains("abc"), "never echo: {report}");
            assert!(!fails[0].detail.contains("ss"), "never echo: {report}");
        }
    }
    for value in ["", "s3cret-token_~.+/="] {
        let report = preflight(
            &env_with_secret(value),
            &c,
            &["langgraph"],
            Path::new("/cfg"),
        );
        assert!(!report.has_failures(), "{value:?}: {report}");
    }
}

#[test]
fn m3_an_unsendable_config_secret_fails() {
    for yaml in [
        "a2a: {inbound_secret: \"  abc  \"}\n",
        "a2a: {inbound_secret: \"abc\\n\"}\n",
        "a2a: {inbound_secret: \"abc\\t\"}\n",
        "a2a: {inbound_secret: pässwörd}\n",
        "a2a:\n  inbound_secret: |\n    abc\n",
    ] {
        let c = parse_h(yaml);
        assert_eq!(c.a2a.inbound_secret, None, "{yaml}");
        let e = error(&c, "a2a.inbound_secret");
        assert!(e.message.contains("Authorization header"), "{e}");
        assert!(
            !e.message.contains("abc") && !e.message.contains("ss"),
            "{e}"
        );
    }
    let c = parse_h("a2a: {inbound_secret: \"s3cret/+=\"}\n");
    assert_eq!(c.a2a.inbound_secret.as_deref(), Some("s3cret/+="));
}
