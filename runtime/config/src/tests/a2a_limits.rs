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
