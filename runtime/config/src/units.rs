//! Byte sizes (`256m`) and durations (`30s`, or a bare number of seconds) as written in
//! config.yaml and SKILL.md, plus the matching human formatting for messages.

use std::time::Duration;

/// Parses a byte size such as `256m`, `1g`, `64k`, `512MiB` or `1048576`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    if let Some(fraction) = unit.strip_prefix('.').filter(|_| !num.is_empty()) {
        return Err(fractional(text, num, fraction));
    }
    let num: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a size; write e.g. 256m, 1g or 65536"))?;
    let Some(mult) = unit_size(unit.trim()) else {
        if t.parse::<f64>().is_ok() {
            return Err(format!(
                "`{text}` is not a whole number of bytes; write the digits (e.g. 1000) or a \
                 size such as 64k"
            ));
        }
        return Err(format!(
            "`{text}` has unknown unit `{}`; use k, m or g",
            unit.trim()
        ));
    };
    match num.checked_mul(mult) {
        Some(0) => Err(format!("`{text}` must be larger than zero")),
        Some(n) => Ok(n),
        None => Err(format!("`{text}` is too large")),
    }
}

/// The bytes of one `unit` (`""`, `b`, `k`, `kib`, `m`, `g`, …), if it is one.
fn unit_size(unit: &str) -> Option<u64> {
    match unit {
        "" | "b" => Some(1),
        "k" | "kb" | "kib" => Some(1 << 10),
        "m" | "mb" | "mib" => Some(1 << 20),
        "g" | "gb" | "gib" => Some(1 << 30),
        _ => None,
    }
}

/// Why `text` (whole part `whole`, then `.` and `rest`) is refused: sizes are whole numbers.
/// The message offers the same size in a smaller unit (`1.5m` → `1536k`) when that is exact.
fn fractional(text: &str, whole: &str, rest: &str) -> String {
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, unit) = rest.split_at(digits_end);
    let hint = match exact_bytes(whole, digits, unit.trim()) {
        Some(n) => format!("write `{}`", format_bytes(n)),
        None => "write a whole number, with a smaller unit if needed (`1536k`, not `1.5m`)".into(),
    };
    format!("`{text}`: fractional sizes are not accepted; {hint}")
}

/// `whole.digits` × `unit` in bytes, when that is a whole number of bytes above zero.
fn exact_bytes(whole: &str, digits: &str, unit: &str) -> Option<u64> {
    let mult = unit_size(unit)?;
    let scale = 10u128.checked_pow(u32::try_from(digits.len()).ok()?)?;
    let number: u128 = format!("{whole}{digits}").parse().ok()?;
    let bytes = number.checked_mul(u128::from(mult))?;
    if bytes == 0 || bytes % scale != 0 {
        return None;
    }
    u64::try_from(bytes / scale).ok()
}

/// Parses a duration such as `30s`, `500ms`, `2m`, `12h`, `7d` or a bare number of seconds
/// (`30`, `2.5`).
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
        "d" => num * 86_400.0,
        other => {
            return Err(format!(
                "`{text}` has unknown unit `{other}`; use ms, s, m, h or d"
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
