//! Tests for [`Env`]: defaults, parsing, smoke flags and the advertised URL.

use std::path::Path;
use std::time::Duration;

use crate::Env;

#[test]
fn defaults_when_nothing_is_set() {
    let env = super::no_env();
    assert_eq!(env.config_path, Path::new("/configs"));
    assert_eq!(env.plugins_dir, Path::new("/plugins"));
    assert_eq!(env.workspace_id, None);
    assert_eq!(env.awareness_namespace, None);
    assert!(!env.smoke_mode);
    assert_eq!(env.smoke_timeout, Duration::from_secs(5));
    assert!(env.warnings.is_empty());
}

#[test]
fn reads_every_variable() {
    let env = Env::from_pairs([
        ("WORKSPACE_ID", "ws-1"),
        ("WORKSPACE_CONFIG_PATH", "/tmp/cfg"),
        ("PLATFORM_URL", "http://platform:8080/"),
        ("PLUGINS_DIR", "/opt/plugins"),
        ("AWARENESS_URL", "http://aw:37800"),
        ("LOG_LEVEL", "DEBUG"),
        ("MOLECULE_WORKSPACE_TOKEN", "tok"),
        ("HOSTNAME", "box"),
        ("MOLECULE_MODEL", "openai:gpt-4.1"),
        ("MODEL", "x"),
        ("LLM_PROVIDER", "openai"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4317"),
        ("EMPTY", ""),
    ]);
    assert_eq!(env.workspace_id.as_deref(), Some("ws-1"));
    assert_eq!(env.config_path, Path::new("/tmp/cfg"));
    assert_eq!(env.platform_url.as_deref(), Some("http://platform:8080"));
    assert_eq!(env.plugins_dir, Path::new("/opt/plugins"));
    assert_eq!(env.awareness_namespace.as_deref(), Some("workspace:ws-1"));
    assert_eq!(env.log_level.as_deref(), Some("DEBUG"));
    assert_eq!(env.workspace_token.as_deref(), Some("tok"));
    assert_eq!(env.molecule_model.as_deref(), Some("openai:gpt-4.1"));
    assert_eq!(env.llm_provider.as_deref(), Some("openai"));
    assert_eq!(env.otel_endpoint.as_deref(), Some("http://otel:4317"));
    assert_eq!(env.advertised_url(8000).as_deref(), Some("http://box:8000"));
    assert!(!env.is_set("EMPTY"));
    assert_eq!(env.get("HOSTNAME"), Some("box"));
}

#[test]
fn explicit_namespace_and_url_win() {
    let env = Env::from_pairs([
        ("WORKSPACE_ID", "ws-1"),
        ("AWARENESS_NAMESPACE", "team:x"),
        ("HOSTNAME", "box"),
        ("MOLECULE_WORKSPACE_URL", "https://agent.example.com/a2a"),
    ]);
    assert_eq!(env.awareness_namespace.as_deref(), Some("team:x"));
    assert_eq!(
        env.advertised_url(8000).as_deref(),
        Some("https://agent.example.com/a2a")
    );
}

#[test]
fn smoke_mode_flags() {
    for on in ["1", "true", "YES", "on"] {
        assert!(
            Env::from_pairs([("MOLECULE_SMOKE_MODE", on)]).smoke_mode,
            "{on}"
        );
    }
    for off in ["0", "false", "no", "off"] {
        assert!(
            !Env::from_pairs([("MOLECULE_SMOKE_MODE", off)]).smoke_mode,
            "{off}"
        );
    }
    let odd = Env::from_pairs([("MOLECULE_SMOKE_MODE", "maybe")]);
    assert!(!odd.smoke_mode);
    assert_eq!(odd.warnings[0].key, "MOLECULE_SMOKE_MODE");
}

#[test]
fn smoke_timeout_parses_and_falls_back_with_a_warning() {
    let ok = Env::from_pairs([("MOLECULE_SMOKE_TIMEOUT_SECS", "10")]);
    assert_eq!(ok.smoke_timeout, Duration::from_secs(10));
    for bad in ["ten", "-1", "0", "2.5"] {
        let env = Env::from_pairs([("MOLECULE_SMOKE_TIMEOUT_SECS", bad)]);
        assert_eq!(env.smoke_timeout, Duration::from_secs(5), "{bad}");
        let w = &env.warnings[0];
        assert_eq!(w.key, "MOLECULE_SMOKE_TIMEOUT_SECS");
        assert!(w.message.contains("using 5"), "{w}");
        assert!(
            w.to_string()
                .starts_with("environment: MOLECULE_SMOKE_TIMEOUT_SECS"),
            "{w}"
        );
    }
}

#[test]
fn parent_id_is_read_and_checked() {
    let env = |pairs: &[(&str, &str)]| Env::from_pairs(pairs.iter().copied());
    assert_eq!(super::no_env().checked_parent_id(), Ok(None));
    assert_eq!(env(&[("PARENT_ID", "  ")]).checked_parent_id(), Ok(None));
    let ok = env(&[("WORKSPACE_ID", "ws-a"), ("PARENT_ID", "ws-pm-123")]);
    assert_eq!(ok.parent_id.as_deref(), Some("ws-pm-123"));
    assert_eq!(ok.checked_parent_id(), Ok(Some("ws-pm-123")));
    let long = "p".repeat(crate::MAX_PARENT_ID_BYTES + 1);
    for bad in ["ws pm", "ws/../x", "ws\u{7}", long.as_str()] {
        let err = env(&[("PARENT_ID", bad)]).checked_parent_id().unwrap_err();
        assert!(err.starts_with("PARENT_ID"), "{bad}: {err}");
    }
    let own = env(&[("WORKSPACE_ID", "ws-a"), ("PARENT_ID", "ws-a")]);
    assert!(own.checked_parent_id().unwrap_err().contains("own"));
}
