//! Reading a human's answer from the follow-up A2A message, in one of three forms (first
//! found wins):
//!
//! 1. message metadata `approval: {decision, id?, text?}`;
//! 2. a data part `{"approval": {decision, id?, text?}}`;
//! 3. the message's text: `approve [ID]` / `approved` / `yes` → approved, `deny [ID]` /
//!    `denied` / `no` / `reject` → denied (case-insensitive, the optional second word is the
//!    id), any other text → a free-text answer.
//!
//! `decision` is `approved` (or `approve`), `denied` (or `deny`, `rejected`) or `answered`
//! (then `text` is the answer). Then [`Answer::resolve`] decides whether it settles a
//! [`Pending`] approval.

use molecule_a2a::types::{Message, PartContent};
use serde_json::Value;

use super::{Asked, Pending, SHOWN_CHARS};

/// What the human decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Approved,
    /// Do not.
    Denied,
    /// Words instead of a yes or no.
    Answered,
}

impl Verdict {
    /// The decision as the adapter sees it: `approved`, `denied` or `answered`.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Approved => "approved",
            Verdict::Denied => "denied",
            Verdict::Answered => "answered",
        }
    }
}

/// A human's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The decision.
    pub verdict: Verdict,
    /// The pending id the answer names, if it names one.
    pub id: Option<String>,
    /// The message's text (at most [`SHOWN_CHARS`] characters).
    pub text: String,
}

/// Why an answer does not settle a pending approval: the task asks again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsettled {
    /// The answer names another pending id (stale or replayed).
    OtherId(String),
    /// A held tool call is approved only with its id.
    NoId,
}

impl Unsettled {
    /// Text for the human, put before the question asked again.
    pub fn explain(&self, pending: &Pending) -> String {
        match self {
            Unsettled::OtherId(id) => format!(
                "That answer is for approval `{}`, not for the one waiting (`{}`); nothing \
                 was approved.",
                crate::redact::escape(&cap(id)),
                pending.id
            ),
            Unsettled::NoId => format!(
                "A held tool call is approved only with its id: reply `approve {}`.",
                pending.id
            ),
        }
    }
}

impl Answer {
    /// Whether this answer settles `pending`: an answer naming another id never does; a held
    /// tool call ([`Asked::Tool`]) is approved only by an answer naming its id (a denial or
    /// words need none: they never run anything).
    pub fn resolve(&self, pending: &Pending) -> Result<(), Unsettled> {
        if let Some(id) = &self.id {
            if *id != pending.id {
                return Err(Unsettled::OtherId(id.clone()));
            }
        }
        let tool = matches!(pending.asked, Asked::Tool { .. });
        if tool && self.verdict == Verdict::Approved && self.id.is_none() {
            return Err(Unsettled::NoId);
        }
        Ok(())
    }
}

/// The answer in `message` (see the module docs).
pub fn parse_answer(message: &Message) -> Answer {
    let text = message_text(message);
    let structured = message
        .metadata
        .as_ref()
        .and_then(|m| m.get("approval"))
        .or_else(|| {
            message.parts.iter().find_map(|p| match &p.content {
                PartContent::Data(v) => v.get("approval"),
                _ => None,
            })
        });
    if let Some(answer) = structured.and_then(|v| structured_answer(v, &text)) {
        return answer;
    }
    text_answer(&text)
}

fn structured_answer(v: &Value, text: &str) -> Option<Answer> {
    let verdict = match v.get("decision")?.as_str()?.trim().to_lowercase().as_str() {
        "approved" | "approve" => Verdict::Approved,
        "denied" | "deny" | "rejected" | "reject" => Verdict::Denied,
        "answered" | "answer" => Verdict::Answered,
        _ => return None,
    };
    let id = v.get("id").and_then(Value::as_str).map(|s| cap(s.trim()));
    let text = v
        .get("text")
        .and_then(Value::as_str)
        .map(cap)
        .unwrap_or_else(|| text.to_owned());
    Some(Answer { verdict, id, text })
}

fn text_answer(text: &str) -> Answer {
    let mut words = text.split_whitespace();
    let first = words
        .next()
        .unwrap_or_default()
        .trim_end_matches(['.', '!', ','])
        .to_lowercase();
    let verdict = match first.as_str() {
        "approve" | "approved" | "yes" | "y" | "ok" => Verdict::Approved,
        "deny" | "denied" | "no" | "n" | "reject" | "rejected" => Verdict::Denied,
        _ => Verdict::Answered,
    };
    let id = match (&verdict, words.next(), words.next()) {
        (Verdict::Answered, _, _) => None,
        (_, Some(word), None) => Some(cap(word.trim_matches(['`', '.', '!']))),
        _ => None,
    };
    let verdict = match (&verdict, words_after(text)) {
        // "yes, but only on staging" is words, not a bare yes.
        (Verdict::Approved | Verdict::Denied, n) if n > 1 => Verdict::Answered,
        _ => verdict,
    };
    let id = if verdict == Verdict::Answered {
        None
    } else {
        id
    };
    Answer {
        verdict,
        id,
        text: text.to_owned(),
    }
}

/// How many words follow the first.
fn words_after(text: &str) -> usize {
    text.split_whitespace().count().saturating_sub(1)
}

/// The text parts of `message`, joined by line breaks, at most [`SHOWN_CHARS`] characters.
fn message_text(message: &Message) -> String {
    let text: Vec<&str> = message.parts.iter().filter_map(|p| p.as_text()).collect();
    cap(text.join("\n").trim())
}

fn cap(text: &str) -> String {
    text.chars().take(SHOWN_CHARS).collect()
}
