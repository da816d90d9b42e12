//! Client-supplied and setup text made safe to put in an error: clipped to a length, control
//! characters escaped, and (for the "not configured" detail) host paths cut to file names.

/// The most characters of client-supplied text repeated in an error message.
pub(crate) const ECHO_LIMIT: usize = 128;
/// The most characters of a whole error message (a backstop behind [`clip`], see
/// [`clip_message`]).
const MESSAGE_LIMIT: usize = 1024;
/// The most characters of the "not configured" detail given to clients.
const DETAIL_LIMIT: usize = 512;

/// Client-supplied `text` as repeated in an error message: control characters escaped
/// (`\n`, `\u{1b}`), and at most [`ECHO_LIMIT`] characters, the rest replaced by `…`.
pub(crate) fn clip(text: &str) -> String {
    clip_to(text, ECHO_LIMIT)
}

/// A whole error message as sent: control characters escaped and at most 1024 characters.
pub(super) fn clip_message(text: &str) -> String {
    clip_to(text, MESSAGE_LIMIT)
}

/// The most characters of an executor's failure reason written to a log line.
const LOG_LIMIT: usize = 4096;

/// An executor's failure reason (adapter text) as a log line shows it: control characters
/// escaped, so it stays one line and cannot colour a terminal, and at most 4096 characters,
/// the rest replaced by `…`.
pub(crate) fn log_text(text: &str) -> String {
    clip_to(text, LOG_LIMIT)
}

fn clip_to(text: &str, limit: usize) -> String {
    let mut out = String::with_capacity(text.len().min(limit + 8));
    for (n, c) in text.chars().enumerate() {
        if n == limit {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// The setup-failure reason as told to clients: every absolute path (`/etc/x/config.yaml`,
/// `C:\x\config.yaml`) replaced by its file name (or `<path>` when it has none), control
/// characters escaped, and at most 512 characters. The full reason belongs in the log and
/// operator surfaces only: clients, unauthenticated ones included, must not learn host paths.
pub(crate) fn client_detail(reason: &str) -> String {
    let chars: Vec<char> = reason.chars().collect();
    let mut out = String::with_capacity(reason.len());
    let mut i = 0;
    while i < chars.len() {
        let boundary =
            i == 0 || !(chars[i - 1].is_alphanumeric() || "/\\:._-~".contains(chars[i - 1]));
        let unix = chars[i] == '/';
        let windows = chars[i].is_ascii_alphabetic()
            && chars.get(i + 1) == Some(&':')
            && matches!(chars.get(i + 2), Some('\\' | '/'));
        if !(boundary && (unix || windows)) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut end = i;
        while end < chars.len() && !is_path_end(chars[end]) {
            end += 1;
        }
        // Punctuation that ends a sentence is not part of the path.
        while end > i + 1 && matches!(chars[end - 1], '.' | ',' | ':' | ';') {
            end -= 1;
        }
        let path: String = chars[i..end].iter().collect();
        let name = path
            .rsplit(['/', '\\'])
            .next()
            .filter(|n| !n.is_empty() && *n != "." && *n != "..");
        out.push_str(name.unwrap_or("<path>"));
        i = end;
    }
    clip_to(&out, DETAIL_LIMIT)
}

fn is_path_end(c: char) -> bool {
    c.is_whitespace() || matches!(c, '`' | '\'' | '"' | ')' | ']' | '>' | ',' | ';')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_detail_strips_absolute_paths() {
        let cases = [
            (
                "no model is available: set `model` in /home/op/ws/config.yaml or export KEY",
                "no model is available: set `model` in config.yaml or export KEY",
            ),
            ("reading /srv/ws/skills/: denied", "reading <path>: denied"),
            ("open /etc/x.yaml.", "open x.yaml."),
            ("see C:\\Users\\op\\config.yaml now", "see config.yaml now"),
            ("path=/a/b/c and (/d/e)", "path=c and (e)"),
            ("fetch http://h/a/b failed", "fetch http://h/a/b failed"),
            ("a/b relative and 1/2", "a/b relative and 1/2"),
            ("setup refused: [REDACTED]", "setup refused: [REDACTED]"),
            ("line\nbreak \u{1b}[31m", "line\\nbreak \\u{1b}[31m"),
        ];
        for (reason, want) in cases {
            assert_eq!(client_detail(reason), want, "{reason:?}");
        }
        let long = client_detail(&"x".repeat(5000));
        assert_eq!(long.chars().count(), 513);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn failure_reason_logged_on_one_bounded_line() {
        let forged = format!(
            "boom\n2026-01-01 INFO forged\x1b[31m\r{}",
            "x".repeat(30 << 20)
        );
        let shown = log_text(&forged);
        assert!(
            shown.starts_with("boom\\n2026-01-01 INFO forged\\u{1b}[31m\\r"),
            "{}",
            &shown[..64]
        );
        assert!(!shown.contains(['\n', '\r', '\u{1b}']));
        // 4096 characters kept, three of them escaped (`\n` +1, `\u{1b}` +5, `\r` +1), then `…`.
        assert_eq!(shown.chars().count(), LOG_LIMIT + 7 + 1);
        assert!(shown.ends_with('…'));
    }
}
