//! The stdout of a CLI agent's run as text chunks: bytes gathered as they arrive, decoded as
//! UTF-8 without splitting a character across chunks (invalid bytes become U+FFFD), and held
//! to `runtime_config.max_output` bytes — the rest is dropped and one notice says so. The
//! granted variables' values are masked first ([`Mask`]), across reads.

use super::mask::Mask;

/// Stdout of one run, on its way to the task's artifact.
pub struct Output {
    max: u64,
    passed: u64,
    kept: u64,
    raw: Vec<u8>,
    truncated: bool,
    noticed: bool,
    mask: Mask,
}

impl Output {
    /// Output passing at most `max` bytes of stdout.
    pub fn new(max: u64) -> Output {
        Output::masking(max, Vec::new())
    }

    /// Output passing at most `max` bytes of stdout, with each of `values` masked
    /// ([`Mask::new`]).
    pub fn masking(max: u64, values: Vec<String>) -> Output {
        Output {
            mask: Mask::new(values),
            max,
            passed: 0,
            kept: 0,
            raw: Vec::new(),
            truncated: false,
            noticed: false,
        }
    }

    /// Adds bytes read from stdout; past `max` they are dropped (and the run is truncated).
    pub fn push(&mut self, bytes: &[u8]) {
        let bytes = self.mask.push(bytes, false);
        self.keep(&bytes);
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = usize::try_from(self.max.saturating_sub(self.kept)).unwrap_or(usize::MAX);
        let take = bytes.len().min(room);
        self.raw.extend_from_slice(&bytes[..take]);
        self.kept += take as u64;
        if take < bytes.len() {
            self.truncated = true;
        }
    }

    /// Bytes waiting to be taken.
    pub fn pending(&self) -> usize {
        self.raw.len()
    }

    /// The text gathered so far (an incomplete character at the end waits for its rest), with
    /// the truncation notice once the cap was hit; `None` when there is nothing.
    pub fn take(&mut self) -> Option<String> {
        self.decode(false)
    }

    /// The rest, at the end of the run (an incomplete last character becomes U+FFFD, or is
    /// dropped when the cap cut it).
    pub fn finish(&mut self) -> Option<String> {
        let held = self.mask.push(&[], true);
        self.keep(&held);
        self.decode(true)
    }

    /// Stdout bytes passed on so far.
    pub fn passed(&self) -> u64 {
        self.passed
    }

    /// Whether stdout went past the cap.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    fn decode(&mut self, last: bool) -> Option<String> {
        let mut text = String::new();
        let mut at = 0;
        while at < self.raw.len() {
            match std::str::from_utf8(&self.raw[at..]) {
                Ok(s) => {
                    text.push_str(s);
                    at = self.raw.len();
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    text.push_str(&String::from_utf8_lossy(&self.raw[at..at + valid]));
                    at += valid;
                    match e.error_len() {
                        Some(n) => {
                            text.push('\u{fffd}');
                            at += n;
                        }
                        // An incomplete character: its rest may still come.
                        None if !last && !self.truncated => break,
                        None => {
                            if !self.truncated {
                                text.push('\u{fffd}');
                            }
                            at = self.raw.len();
                        }
                    }
                }
            }
        }
        self.passed += at as u64;
        self.raw.drain(..at);
        if self.truncated && !self.noticed && (self.raw.is_empty() || last) {
            self.noticed = true;
            text.push_str(&format!(
                "\n[output truncated: the program wrote more than {} bytes \
                 (runtime_config.max_output); the rest was dropped]",
                self.max
            ));
        }
        (!text.is_empty()).then_some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_are_never_split_across_chunks() {
        let mut out = Output::new(100);
        let snow = "☃".as_bytes();
        out.push(&[b'a', snow[0]]);
        assert_eq!(out.take().as_deref(), Some("a"));
        out.push(&snow[1..]);
        assert_eq!(out.take().as_deref(), Some("☃"));
        out.push(&[0xff, b'b', snow[0]]);
        assert_eq!(out.finish().as_deref(), Some("\u{fffd}b\u{fffd}"));
        assert!(!out.truncated());
    }

    #[test]
    fn a_secret_split_across_reads_is_masked() {
        let mut out = Output::masking(100, vec!["sk-live-0123456789".into()]);
        out.push(b"token: sk-live-01");
        let first = out.take().unwrap_or_default();
        out.push(b"23456789 done");
        let text = first + &out.finish().unwrap_or_default();
        assert_eq!(text, "token: ****************** done");
    }

    #[test]
    fn the_cap_drops_the_rest_and_says_so_once() {
        let mut out = Output::new(5);
        out.push(b"hello world");
        let text = out.take().expect("text");
        assert!(text.starts_with("hello\n[output truncated"), "{text}");
        assert!(
            text.contains("more than 5 bytes (runtime_config.max_output)"),
            "{text}"
        );
        out.push(b"more");
        assert_eq!(out.take(), None);
        assert_eq!(out.finish(), None);
        assert_eq!(out.passed(), 5);
        assert!(out.truncated());
    }
}
