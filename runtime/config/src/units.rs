//! Byte sizes (`256m`) and durations (`30s`, or a bare number of seconds) as written in
//! config.yaml and SKILL.md, plus the matching human formatting for messages.

use std::time::Duration;

/// Parses a byte size such as `256m`, `1g`, `64k`, `512MiB` or `1048576`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    let num: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a size; write e.g. 256m, 1g or 65536"))?;
    let mult: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "`{text}` has unknown unit `{other}`; use k, m or g"
            ))
        }
    };
    match num.checked_mul(mult) {
        Some(0) => Err(format!("`{text}` must be larger than zero")),
        Some(n) => Ok(n),
        None => Err(format!("`{text}` is too large")),
    }
}

/// Parses a duration such as `30s`, `500ms`, `2m` or a bare number of seconds (`30`, `2.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim().to_ascii_lowercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write e.g. 30s, 500ms or 2m"))?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => num,
        "ms" => num / 1000.0,
        "m" | "min" => num * 60.0,
        "h" => num * 3600.0,
        other => {
            return Err(format!(
                "`{text}` has unknown unit `{other}`; use ms, s, m or h"
            ))
        }
    };
    seconds(secs).ok_or_else(|| format!("`{text}` must be a positive duration"))
}

/// A positive, finite number of seconds as a [`Duration`].
pub(crate) fn seconds(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs > 0.0 && secs < 1e12).then(|| Duration::from_secs_f64(secs))
}

/// Formats a byte count for messages: `256m`, `1g`, `64k`, or plain bytes — the same notation
/// config.yaml accepts, so a message can be pasted back into the file.
pub fn format_bytes(n: u64) -> String {
    for (unit, suffix) in [(1u64 << 30, "g"), (1 << 20, "m"), (1 << 10, "k")] {
        if n >= unit && n.is_multiple_of(unit) {
            return format!("{}{suffix}", n / unit);
        }
    }
    n.to_string()
}

/// Formats a duration for messages: `30s`, `250ms`.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
