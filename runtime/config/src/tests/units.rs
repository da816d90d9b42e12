//! Tests for byte-size and duration parsing and formatting.

use std::time::Duration;

use crate::units::{format_bytes, format_duration, parse_bytes, parse_duration};

#[test]
fn sizes() {
    assert_eq!(parse_bytes("256m"), Ok(256 << 20));
    assert_eq!(parse_bytes("1G"), Ok(1 << 30));
    assert_eq!(parse_bytes("64KiB"), Ok(64 << 10));
    assert_eq!(parse_bytes("4096"), Ok(4096));
    assert!(parse_bytes("lots").is_err());
    assert!(parse_bytes("5t").unwrap_err().contains("unknown unit"));
    assert!(parse_bytes("0").is_err());
    assert_eq!(format_bytes(256 << 20), "256m");
    assert_eq!(format_bytes(1 << 30), "1g");
    assert_eq!(format_bytes(1000), "1000");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
    assert!(parse_duration("7w")
        .unwrap_err()
        .contains("use ms, s, m, h or d"));
    assert!(parse_duration("0").is_err());
    assert!(parse_duration("soon").is_err());
    assert_eq!(format_duration(Duration::from_secs(30)), "30s");
    assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
}

#[test]
fn fractional_and_float_sizes_say_what_to_write() {
    let e = parse_bytes("1.5m").unwrap_err();
    assert!(
        e.contains("fractional sizes are not accepted; write `1536k`"),
        "{e}"
    );
    let e = parse_bytes("0.5k").unwrap_err();
    assert!(e.contains("write `512`"), "{e}");
    let e = parse_bytes("1.0000001m").unwrap_err();
    assert!(e.contains("write a whole number"), "{e}");
    assert!(!e.contains("unknown unit"), "{e}");
    let e = parse_bytes("1e3").unwrap_err();
    assert!(e.contains("`1e3` is not a whole number of bytes"), "{e}");
    assert!(parse_bytes("5t").unwrap_err().contains("unknown unit `t`"));
}
