//! [`parse`]: one YAML document into a `Value`, refusing repeated and merge keys at their own
//! line, after a linear pre-scan that refuses flow collections nested too deeply.

use std::cell::RefCell;

use serde::de::DeserializeSeed;
use serde_yaml::Value;

use super::build::NodeSeed;

/// Why a YAML text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// The 1-based line of the problem, when the parser knows it.
    pub(crate) line: Option<usize>,
    /// The key path of a repeated key (`a2a.port`); empty for other errors.
    pub(crate) key: String,
    /// What is wrong, starting with a verb (`is not valid YAML: …`).
    pub(crate) message: String,
}

/// How deeply collections may nest (serde_yaml's own recursion limit is the same); deeper
/// flow collections are refused by a linear scan before the parser, whose cost grows with the
/// square of the flow depth.
pub(crate) const MAX_DEPTH: usize = 128;

/// Parses one YAML document into a `Value`, rejecting repeated keys and merge keys (`<<`) at
/// their own line. A leading byte-order mark is the caller's to strip.
pub(crate) fn parse(text: &str) -> Result<Value, ParseError> {
    check_flow_depth(text)?;
    let problem = RefCell::new(None);
    let seed = NodeSeed {
        path: String::new(),
        problem: &problem,
    };
    let result = seed.deserialize(serde_yaml::Deserializer::from_str(text));
    result.map_err(|e| {
        let line = e.location().map(|l| l.line());
        match problem.into_inner() {
            Some((key, message)) => ParseError { line, message, key },
            None => ParseError {
                line,
                key: String::new(),
                message: format!("is not valid YAML: {e}"),
            },
        }
    })
}

/// Refuses flow collections (`[…]`, `{…}`) nested deeper than [`MAX_DEPTH`], naming the
/// line, in one pass over the text. Quoted scalars, comments and block scalars are skipped; a
/// `[` or `{` inside a plain scalar in block context (`a: b[c`) is not an indicator.
fn check_flow_depth(text: &str) -> Result<(), ParseError> {
    let mut depth = 0usize;
    // Inside a quoted scalar: the closing quote (quoted scalars may span lines).
    let mut quote: Option<char> = None;
    // Skipping the lines of a block scalar more indented than this.
    let mut block: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(parent) = block {
            if line.trim().is_empty() || indent > parent {
                continue;
            }
            block = None;
        }
        let header = block_header(line);
        let mut prev = ' ';
        let mut chars = line.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            if let Some(q) = quote {
                let next = chars.peek().map(|&(_, c)| c);
                let escaped =
                    (q == '"' && c == '\\') || (c == q && q == '\'' && next == Some('\''));
                if escaped {
                    chars.next();
                } else if c == q {
                    quote = None;
                }
                prev = c;
                continue;
            }
            let starts = prev == ' '
                || prev == '\t'
                || matches!(prev, '[' | '{' | ',')
                || (depth > 0 && prev == ':');
            match c {
                '#' if prev == ' ' || prev == '\t' => break,
                '"' | '\'' if starts => quote = Some(c),
                '[' | '{' if starts || depth > 0 => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(ParseError {
                            line: Some(i + 1),
                            key: String::new(),
                            message: format!(
                                "is not usable: collections nest deeper than {MAX_DEPTH} \
                                 levels; flatten it"
                            ),
                        });
                    }
                }
                ']' | '}' if depth > 0 => depth -= 1,
                '|' | '>' if starts && depth == 0 && header == Some(at) => {
                    block = Some(indent);
                    break;
                }
                _ => {}
            }
            prev = c;
        }
    }
    Ok(())
}

/// Where the indicator of a block scalar header (`key: |`, `- >-`, `|2 # note`) that ends
/// `line` is, if one does.
fn block_header(line: &str) -> Option<usize> {
    let code = line.split(" #").next().unwrap_or(line).trim_end();
    let head = code.trim_end_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
    let at = head.len().checked_sub(1)?;
    let before = head[..at].chars().next_back();
    (head.ends_with(['|', '>']) && matches!(before, None | Some(' ' | '\t'))).then_some(at)
}
