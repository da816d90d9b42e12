//! A CLI agent's stderr to the host log: one `warn` record per line, redacted (the values of
//! the variables the program was given, and anything that looks like a credential) and escaped (control characters written out, so the program can
//! never forge a log line), at most [`STDERR_LINE_BYTES`] a line and [`STDERR_LOG_BYTES`] a run
//! (each record charged at least [`RECORD_COST`], so empty lines cannot flood the log); past
//! that, one notice and the rest is read and dropped. A line is masked before it is cut, so a
//! value the cut falls inside is masked too.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes of one stderr line logged; the rest of the line is cut (marked `…`).
pub const STDERR_LINE_BYTES: usize = 4096;
/// Stderr bytes logged per run (64 KiB).
pub const STDERR_LOG_BYTES: usize = 64 * 1024;
/// The least a logged record costs against [`STDERR_LOG_BYTES`] (bytes): a record's own
/// overhead (fields, timestamp) even when the line is empty — at most 512 records a run.
pub const RECORD_COST: usize = 128;

use super::mask::MIN_MASKED;

/// Reads `stderr` to its end, logging it line by line under `program`; each of `values` (the
/// program's granted variables) is masked as `[REDACTED]`.
pub async fn log_stderr(mut stderr: impl AsyncRead + Unpin, program: String, values: Vec<String>) {
    let mut log = StderrLog::masking(values);
    let mut buf = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut buf).await {
        if n == 0 {
            break;
        }
        for line in log.push(&buf[..n]) {
            tracing::warn!(program = %program, stderr = %line, "cli agent stderr");
        }
    }
    if let Some(line) = log.finish() {
        tracing::warn!(program = %program, stderr = %line, "cli agent stderr");
    }
}

/// Splits stderr into bounded, escaped lines within the per-run budget.
#[derive(Default)]
pub struct StderrLog {
    masked: Vec<String>,
    /// Bytes of a line kept before masking: [`STDERR_LINE_BYTES`] + the longest value, so a
    /// value starting before the cut is whole when masked.
    keep: usize,
    line: Vec<u8>,
    cut: bool,
    logged: usize,
    over: bool,
}

impl StderrLog {
    /// A log that masks each of `values` of at least 8 bytes.
    pub fn masking(values: Vec<String>) -> StderrLog {
        let masked: Vec<String> = values
            .into_iter()
            .filter(|v| v.len() >= MIN_MASKED)
            .collect();
        let longest = masked.iter().map(String::len).max().unwrap_or(0);
        StderrLog {
            masked,
            keep: STDERR_LINE_BYTES + longest,
            ..StderrLog::default()
        }
    }

    /// The complete lines in `bytes` (with what came before), ready to log.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                out.extend(self.line_done());
            } else if self.line.len() < self.keep.max(STDERR_LINE_BYTES) {
                self.line.push(b);
            } else {
                self.cut = true;
            }
        }
        out
    }

    /// The last line, if it had no line break.
    pub fn finish(&mut self) -> Option<String> {
        if self.line.is_empty() {
            return None;
        }
        self.line_done()
    }

    fn line_done(&mut self) -> Option<String> {
        let line = std::mem::take(&mut self.line);
        let cut = std::mem::take(&mut self.cut);
        if self.over {
            return None;
        }
        let mut text = String::from_utf8_lossy(&line).into_owned();
        for value in &self.masked {
            text = text.replace(value.as_str(), "[REDACTED]");
        }
        let cut = cut || text.len() > STDERR_LINE_BYTES;
        text.truncate(text.floor_char_boundary(STDERR_LINE_BYTES));
        let cost = text.len().max(RECORD_COST);
        if self.logged + cost > STDERR_LOG_BYTES {
            self.over = true;
            return Some(format!(
                "[stderr past {STDERR_LOG_BYTES} bytes this run; the rest is not logged]"
            ));
        }
        self.logged += cost;
        let mut shown = crate::redact::escape(&crate::redact::redact(&text));
        if cut {
            shown.push('…');
        }
        Some(shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_escaped_cut_and_budgeted() {
        let mut log = StderrLog::default();
        let lines = log.push(b"one\x1b[31m\rtwo\nthree");
        assert_eq!(lines, ["one\\u{1b}[31m\\rtwo"]);
        assert_eq!(log.finish().as_deref(), Some("three"));
        let long = vec![b'x'; STDERR_LINE_BYTES + 10];
        let lines = log.push(&[long.as_slice(), b"\n"].concat());
        assert!(lines[0].ends_with('…') && lines[0].len() == STDERR_LINE_BYTES + '…'.len_utf8());
        let mut lines = Vec::new();
        for _ in 0..40 {
            lines.extend(log.push(&[long.as_slice(), b"\n"].concat()));
        }
        assert!(lines.len() < 20, "{}", lines.len());
        assert!(lines.last().expect("notice").contains("not logged"));
    }

    #[test]
    fn granted_values_are_masked() {
        let mut log = StderrLog::masking(vec!["plain-value-123".into(), "short".into()]);
        let lines = log.push(b"key=plain-value-123 short\n");
        assert_eq!(lines, ["key=[REDACTED] short"]);
        // A value split across two writes: lines are masked whole.
        assert!(log.push(b"again plain-va").is_empty());
        assert_eq!(log.push(b"lue-123 end\n"), ["again [REDACTED] end"]);
    }

    /// 10 MB of empty lines: each record is charged [`RECORD_COST`], so a few hundred records
    /// and the notice, not ten million.
    #[test]
    fn empty_lines_are_charged_against_the_budget() {
        let mut log = StderrLog::default();
        let mut records = 0usize;
        let newlines = vec![b'\n'; 1 << 20];
        for _ in 0..10 {
            records += log.push(&newlines).len();
        }
        assert_eq!(records, STDERR_LOG_BYTES / RECORD_COST + 1);
    }

    /// The line cut (4096 bytes) falling inside a granted value: masked before the cut.
    #[test]
    fn a_value_the_cut_falls_inside_is_masked() {
        let secret = "ordinary-granted-value-here";
        let mut log = StderrLog::masking(vec![secret.into()]);
        let line = format!("{}{secret} tail\n", "x".repeat(4073));
        let lines = log.push(line.as_bytes());
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].contains(&secret[..8]), "{}", &lines[0][4000..]);
        assert!(
            lines[0].ends_with("x[REDACTED] tail"),
            "{}",
            &lines[0][4000..]
        );
    }
}
