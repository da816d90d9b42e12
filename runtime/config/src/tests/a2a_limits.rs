//! Tests for the A2A server's connection limits: `a2a.header_timeout`, `a2a.body_timeout`,
//! `a2a.idle_timeout` and `a2a.max_connections` (unset = the server's defaults; a bad value
//! warns and keeps the default).

use std::time::Duration;

use super::{parse, warning};

#[test]
fn unset_limits_leave_the_server_defaults() {
    let c = parse("");
    assert_eq!(c.a2a.header_timeout, None);
    assert_eq!(c.a2a.body_timeout, None);
    assert_eq!(c.a2a.idle_timeout, None);
    assert_eq!(c.a2a.max_connections, None);
}

#[test]
fn limits_read_durations_and_a_count() {
    let c = parse(
        "a2a:\n  header_timeout: 5s\n  body_timeout: 1m\n  idle_timeout: 90\n  \
         max_connections: 64\n",
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.a2a.header_timeout, Some(Duration::from_secs(5)));
    assert_eq!(c.a2a.body_timeout, Some(Duration::from_secs(60)));
    assert_eq!(c.a2a.idle_timeout, Some(Duration::from_secs(90)));
    assert_eq!(c.a2a.max_connections, Some(64));
}

#[test]
fn bad_limits_warn_and_keep_the_defaults() {
    let c = parse("a2a: {header_timeout: 0, body_timeout: soon, max_connections: 0}\n");
    assert_eq!(c.a2a.header_timeout, None);
    assert!(warning(&c, "a2a.header_timeout").message.contains("10s"));
    assert_eq!(c.a2a.body_timeout, None);
    assert!(warning(&c, "a2a.body_timeout").message.contains("30s"));
    assert_eq!(c.a2a.max_connections, Some(1024));
    assert!(warning(&c, "a2a.max_connections")
        .message
        .contains("out of range"));
}

#[test]
fn value_warnings_carry_the_line_of_the_value() {
    let c = parse("name: x\na2a:\n  header_timeout: 0\n  max_connections: 0\n");
    let w = warning(&c, "a2a.header_timeout");
    assert_eq!(w.line, Some(3), "{w}");
    assert!(w.message.contains("`0` must be a positive number"), "{w}");
    assert_eq!(warning(&c, "a2a.max_connections").line, Some(4));
    let c = parse("a2a: {header_timeout: 0}\n");
    assert_eq!(warning(&c, "a2a.header_timeout").line, Some(1));
}

#[test]
fn a_null_value_warns_and_keeps_the_default() {
    let c = parse("a2a:\n  port: 9000\n  idle_timeout: ~\n  streaming:\n");
    assert_eq!(c.a2a.port, 9000);
    assert_eq!(c.a2a.idle_timeout, None);
    assert!(c.a2a.streaming);
    let w = warning(&c, "a2a.idle_timeout");
    assert!(
        w.message
            .contains("is empty (null); using the default, 75s"),
        "{w}"
    );
    assert_eq!(w.line, Some(3), "{w}");
    assert!(warning(&c, "a2a.streaming").message.contains("true"));
    assert!(c.errors.is_empty(), "{:?}", c.errors);
}

#[test]
fn per_client_connection_cap_is_read_and_checked() {
    assert_eq!(parse("").a2a.max_connections_per_client, None);
    let c = parse("a2a:\n  max_connections_per_client: 8\n");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.a2a.max_connections_per_client, Some(8));
    let c = parse("a2a: {max_connections_per_client: 0}\n");
    assert_eq!(c.a2a.max_connections_per_client, Some(64));
    assert!(warning(&c, "a2a.max_connections_per_client")
        .message
        .contains("out of range"));
}
