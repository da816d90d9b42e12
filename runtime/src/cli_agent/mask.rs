//! Masking of the granted variables' values in a CLI agent's stdout, the way guest HTTP
//! responses are masked (`molecule_egress::RedactedBody`): each occurrence of a value is
//! overwritten with `*` of the same length, while the bytes stream — each read is scanned
//! together with the last `longest value − 1` bytes held back from the one before, so a value
//! split across two writes is found too; the held-back bytes go out with the next read or at
//! the end. Values shorter than [`MIN_MASKED`] bytes are not masked (too likely to match
//! ordinary text; the runtime warns about them at boot).

use aho_corasick::{AhoCorasick, MatchKind};

/// Values shorter than this (bytes) are not masked.
pub const MIN_MASKED: usize = 8;
/// The byte written over a value (the same as `molecule_egress::MASK`).
pub const MASK: u8 = b'*';

/// A streaming masker over a set of secret values.
pub struct Mask {
    search: Option<AhoCorasick>,
    longest: usize,
    carry: Vec<u8>,
}

impl Mask {
    /// A masker for each of `values` of at least [`MIN_MASKED`] bytes.
    pub fn new<I: IntoIterator<Item = String>>(values: I) -> Mask {
        let values: Vec<String> = values
            .into_iter()
            .filter(|v| v.len() >= MIN_MASKED)
            .collect();
        let longest = values.iter().map(String::len).max().unwrap_or(0);
        let search = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&values)
            .ok()
            .filter(|_| !values.is_empty());
        Mask {
            search,
            longest,
            carry: Vec::new(),
        }
    }

    /// Masks the held-back bytes plus `bytes`; returns what may be released now (all of it
    /// when `last`), keeping at most `longest value − 1` bytes back.
    pub fn push(&mut self, bytes: &[u8], last: bool) -> Vec<u8> {
        self.carry.extend_from_slice(bytes);
        let Some(search) = &self.search else {
            return std::mem::take(&mut self.carry);
        };
        let len = self.carry.len();
        let safe = if last {
            len
        } else {
            len.saturating_sub(self.longest - 1)
        };
        let mut masked_to = 0;
        let mut ranges = Vec::new();
        for m in search.find_iter(&self.carry[..]) {
            if m.start() >= safe {
                break;
            }
            ranges.push((m.start(), m.end()));
            masked_to = m.end();
        }
        for (start, end) in ranges {
            self.carry[start..end].fill(MASK);
        }
        let rest = self.carry.split_off(masked_to.max(safe));
        std::mem::replace(&mut self.carry, rest)
    }

    /// Bytes held back now.
    pub fn held(&self) -> usize {
        self.carry.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_split_across_pushes_is_masked() {
        let mut mask = Mask::new(["sk-secret-123".to_owned(), "short".to_owned()]);
        let mut out = mask.push(b"key=sk-sec", false);
        assert!(mask.held() < "sk-secret-123".len());
        out.extend(mask.push(b"ret-123 short", false));
        out.extend(mask.push(b"", true));
        assert_eq!(out, b"key=************* short");
    }

    #[test]
    fn nothing_is_held_without_values() {
        let mut mask = Mask::new(Vec::new());
        assert_eq!(mask.push(b"abc", false), b"abc");
        assert_eq!(mask.held(), 0);
    }
}
