//! Secret redaction: anything that looks like a credential is replaced before text leaves the
//! process (error reasons) or is stored (memories).

/// Prefixes of well-known credential formats.
const SECRET_PREFIXES: [&str; 9] = [
    "sk-",
    "sk_",
    "ghp_",
    "gho_",
    "github_pat_",
    "xoxb-",
    "xoxp-",
    "AKIA",
    "AIza",
];

/// Replaces credential-looking words (and `Bearer <token>`, `key=value` secrets) with
/// `[REDACTED]`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_bearer = false;
    for piece in text.split_inclusive(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
        let bare = piece.trim_end_matches(|c: char| c.is_whitespace() || c == '"' || c == '\'');
        let (key, value) = match bare.split_once('=') {
            Some((k, v)) => (Some(k), v),
            None => (None, bare),
        };
        let sensitive_key = key.is_some_and(|k| {
            let k = k.to_ascii_lowercase();
            ["token", "secret", "password", "api_key", "apikey"]
                .iter()
                .any(|s| k.contains(s))
        });
        let looks_secret = value.len() > 10 && SECRET_PREFIXES.iter().any(|p| value.starts_with(p));
        if (after_bearer && bare.len() > 8) || looks_secret || (sensitive_key && !value.is_empty())
        {
            out.push_str(&piece.replacen(value, "[REDACTED]", 1));
        } else {
            out.push_str(piece);
        }
        after_bearer = bare.eq_ignore_ascii_case("bearer");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn hides_credentials_and_keeps_prose() {
        let text = "setup refused (token sk-live-abcdef123456) for \"ghp_0123456789abcdef\"";
        let out = redact(text);
        assert!(!out.contains("sk-live") && !out.contains("ghp_"), "{out}");
        assert!(out.contains("setup refused"), "{out}");
        assert_eq!(
            redact("Authorization: Bearer abcdefghijklmnop"),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(redact("password=hunter22 ok"), "password=[REDACTED] ok");
        assert_eq!(redact("the deploy is on friday"), "the deploy is on friday");
    }
}

/// `text` with every control character written as an escape (`\n`, `\r`, `\t`, `\u{1b}`), so
/// text from a guest, a client or a file cannot start a new log line or colour a terminal.
pub fn escape(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Like [`escape`], but keeps line breaks (`\n`): for guest text shown as several lines,
/// such as a stack trace a guest printed. Carriage returns, escape sequences, other control
/// characters and the Unicode line and paragraph separators and bidirectional overrides are
/// escaped, so the text cannot move the cursor, recolour a terminal or hide what follows.
pub fn escape_keep_lines(text: &str) -> String {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod escape_tests {
    use super::{escape, escape_keep_lines};

    #[test]
    fn keeping_lines_still_escapes_terminal_control() {
        let text = "SyntaxError: x\n    at app.js:3\u{1b}]0;pwned\u{7}\r\nFORGED\u{202e}";
        assert_eq!(
            escape_keep_lines(text),
            "SyntaxError: x\n    at app.js:3\\u{1b}]0;pwned\\u{7}\\r\nFORGED\\u{202e}"
        );
        assert_eq!(escape_keep_lines("plain\nlines"), "plain\nlines");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a\nb\tc\u{1b}[31m"), "a\\nb\\tc\\u{1b}[31m");
    }
}
