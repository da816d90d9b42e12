//! Tests for the log level in force: `LOG_LEVEL` > `RUST_LOG` > `observability.log_level` >
//! the default `WARN`, each with its origin, and the `tracing` directive each gives.

use super::{no_env, parse, warning};
use crate::{Env, LogLevel, Origin, DEFAULT_LOG_LEVEL};

#[test]
fn the_default_is_warn_when_nothing_sets_a_level() {
    let level = parse("").log_level(&no_env());
    assert_eq!(level.text, DEFAULT_LOG_LEVEL);
    assert_eq!(level.origin, Origin::Default);
    assert_eq!(level.directive(), "warn");
}

#[test]
fn config_log_level_applies_when_the_environment_sets_none() {
    let c = parse("observability: {log_level: debug}\n");
    assert_eq!(c.observability.log_level.as_deref(), Some("DEBUG"));
    let level = c.log_level(&no_env());
    assert_eq!(
        level.origin,
        Origin::File {
            key: "observability.log_level"
        }
    );
    assert_eq!(level.directive(), "debug");
}

#[test]
fn log_level_beats_rust_log_beats_config() {
    let c = parse("observability: {log_level: DEBUG}\n");
    let both = Env::from_pairs([("LOG_LEVEL", "ERROR"), ("RUST_LOG", "trace")]);
    let level = c.log_level(&both);
    assert_eq!(level.origin, Origin::Env { var: "LOG_LEVEL" });
    assert_eq!(level.directive(), "error");
    let rust_log = Env::from_pairs([("RUST_LOG", "molecule_runtime=trace,info")]);
    let level = c.log_level(&rust_log);
    assert_eq!(level.origin, Origin::Env { var: "RUST_LOG" });
    assert_eq!(level.directive(), "molecule_runtime=trace,info");
    assert_eq!(level.source(), "RUST_LOG");
    // Empty counts as unset, so the config level applies.
    let empty = Env::from_pairs([("LOG_LEVEL", " "), ("RUST_LOG", "")]);
    assert_eq!(c.log_level(&empty).directive(), "debug");
}

#[test]
fn python_level_names_map_to_tracing_levels() {
    for (text, directive) in [
        ("WARNING", "warn"),
        ("critical", "error"),
        ("Info", "info"),
        ("TRACE", "trace"),
    ] {
        let level = LogLevel::resolve(&Env::from_pairs([("LOG_LEVEL", text)]), None);
        assert_eq!(level.directive(), directive, "{text}");
    }
}

#[test]
fn an_unknown_config_level_warns_at_its_line_and_uses_the_default() {
    let c = parse("name: x\nobservability:\n  log_level: LOUD\n");
    assert_eq!(c.observability.log_level, None);
    assert_eq!(c.log_level(&no_env()).origin, Origin::Default);
    let w = warning(&c, "observability.log_level");
    assert!(w.message.contains("using the default, WARN"), "{w}");
    assert_eq!(w.line, Some(3), "{w}");
}
