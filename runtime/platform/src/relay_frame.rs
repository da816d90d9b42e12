//! The framing of the outbound relay ("workspaces behind NAT"): a workspace with no inbound
//! port opens a WebSocket to the platform (`GET /workspaces/{id}/connect`, see
//! [`CONNECT_PATH`]) and the platform relays A2A requests through it. Every WebSocket message
//! is one JSON text frame, a [`Frame`], tagged by `type`; requests are multiplexed by `id`.
//! Both ends use this module (the workspace in `molecule-runtime`'s `outbound/`, the fake
//! platform in `fake/relay.rs`), so the format is defined once. The README's "Workspaces
//! behind NAT" section documents it for other platform implementations.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The socket's path on the platform; `{id}` is the workspace id.
pub const CONNECT_PATH: &str = "/workspaces/{id}/connect";

/// Largest WebSocket message either end accepts (bytes of the JSON text frame). A larger
/// message ends the connection (close code 1009, "message too big").
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// Largest request body the platform relays (bytes, before encoding); a larger one is refused
/// with 413 before anything reaches the socket, so a request frame always fits
/// [`MAX_FRAME_BYTES`] (base64 adds a third, JSON escaping of text at most ×6 for control
/// characters, which are sent as base64 instead).
pub const MAX_REQUEST_BODY: usize = 512 << 10;

/// Largest piece of a response body in one `body` frame (bytes, before encoding); a longer
/// piece is split across frames.
pub const MAX_CHUNK_BYTES: usize = 128 << 10;

/// Longest request id (characters).
pub const MAX_ID_CHARS: usize = 64;

/// The `message` of the `error` frame that answers a `cancel`: after it, nothing more comes
/// for that id and the platform may use the id again.
pub const CANCELLED: &str = "cancelled";

/// Most headers in one `request` or `head` frame.
pub const MAX_HEADERS: usize = 32;

/// Longest header value (bytes).
pub const MAX_HEADER_VALUE: usize = 8 << 10;

/// The request headers the platform relays (lower case); others are dropped.
pub const RELAYED_REQUEST_HEADERS: [&str; 7] = [
    "content-type",
    "accept",
    "authorization",
    "x-workspace-id",
    "a2a-version",
    "a2a-extensions",
    "last-event-id",
];

/// The response headers the workspace relays (lower case); others are dropped.
pub const RELAYED_RESPONSE_HEADERS: [&str; 5] = [
    "content-type",
    "cache-control",
    "retry-after",
    "www-authenticate",
    "a2a-extensions",
];

/// One relay frame. Platform → workspace: `request`, `cancel`. Workspace → platform: `head`,
/// then zero or more `body`, then `end` (or `error` after a head, when the body failed); a
/// `cancel` is always answered by `error` with message [`CANCELLED`], the last frame of that id.
/// An id is free for a new request once its `end` or `error` arrived (after a `cancel`: its
/// `error`); a `request` reusing an id still in flight is dropped unanswered by the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Frame {
    /// An HTTP request for the workspace's A2A server.
    Request {
        /// Chosen by the platform, unique among its open requests on this socket (see the
        /// enum's note on reusing one).
        id: String,
        /// `GET`, `POST`, ….
        method: String,
        /// Path and query on the workspace's server, starting with `/`.
        path: String,
        /// Header names (lower case) and values; only [`RELAYED_REQUEST_HEADERS`].
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// The body as UTF-8 text (absent: see `b64`, or empty).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// The body as standard base64, when it is not printable UTF-8.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        b64: Option<String>,
    },
    /// The caller went away: stop answering `id`.
    Cancel {
        /// The request's id.
        id: String,
    },
    /// The response status and headers of `id`.
    Head {
        /// The request's id.
        id: String,
        /// HTTP status.
        status: u16,
        /// Header names (lower case) and values; only [`RELAYED_RESPONSE_HEADERS`].
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
    /// A piece of the response body of `id` (for SSE, one frame per event chunk).
    Body {
        /// The request's id.
        id: String,
        /// The piece as UTF-8 text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// The piece as standard base64.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        b64: Option<String>,
    },
    /// The response of `id` is complete.
    End {
        /// The request's id.
        id: String,
    },
    /// The response of `id` broke off after its head (the caller's stream ends early), or —
    /// with message [`CANCELLED`], with or without a head before it — the answer to a `cancel`.
    Error {
        /// The request's id.
        id: String,
        /// Why, for the log (never the peer's text unescaped).
        message: String,
    },
}

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Larger than [`MAX_FRAME_BYTES`].
    #[error("relay frame of {0} bytes is over the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    /// Not JSON, or not one of the frame types.
    #[error("relay frame is not valid: {0}")]
    Invalid(String),
}

impl Frame {
    /// The request id the frame belongs to.
    pub fn id(&self) -> &str {
        match self {
            Frame::Request { id, .. }
            | Frame::Cancel { id }
            | Frame::Head { id, .. }
            | Frame::Body { id, .. }
            | Frame::End { id }
            | Frame::Error { id, .. } => id,
        }
    }

    /// Parses one text frame, checking the size, the id and the header limits.
    ///
    /// # Errors
    /// [`FrameError::TooLarge`] over [`MAX_FRAME_BYTES`]; [`FrameError::Invalid`] for bad
    /// JSON, an unknown type or field, an empty or over-long id, too many or too long headers,
    /// a body given as both `text` and `b64`, or a request path not starting with `/`.
    pub fn parse(text: &str) -> Result<Frame, FrameError> {
        if text.len() > MAX_FRAME_BYTES {
            return Err(FrameError::TooLarge(text.len()));
        }
        let frame: Frame =
            serde_json::from_str(text).map_err(|e| FrameError::Invalid(e.to_string()))?;
        frame.check().map_err(FrameError::Invalid)?;
        Ok(frame)
    }

    fn check(&self) -> Result<(), String> {
        let id = self.id();
        if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
            return Err(format!("id must be 1–{MAX_ID_CHARS} characters"));
        }
        match self {
            Frame::Request {
                path,
                headers,
                text,
                b64,
                ..
            } => {
                if !path.starts_with('/') {
                    return Err("request path must start with `/`".into());
                }
                check_headers(headers)?;
                one_body(text, b64)
            }
            Frame::Head { headers, .. } => check_headers(headers),
            Frame::Body { text, b64, .. } => one_body(text, b64),
            _ => Ok(()),
        }
    }

    /// Serialises the frame as one JSON text frame.
    pub fn to_text(&self) -> String {
        // A Frame holds only strings, numbers and string maps: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn check_headers(headers: &BTreeMap<String, String>) -> Result<(), String> {
    if headers.len() > MAX_HEADERS {
        return Err(format!("more than {MAX_HEADERS} headers"));
    }
    if headers.values().any(|v| v.len() > MAX_HEADER_VALUE) {
        return Err(format!("a header value is over {MAX_HEADER_VALUE} bytes"));
    }
    Ok(())
}

fn one_body(text: &Option<String>, b64: &Option<String>) -> Result<(), String> {
    if text.is_some() && b64.is_some() {
        return Err("a body is either `text` or `b64`, not both".into());
    }
    Ok(())
}

/// Encodes body bytes as `(text, b64)`: printable UTF-8 (tabs and line breaks allowed) as
/// text, anything else as base64.
pub fn encode_body(bytes: &[u8]) -> (Option<String>, Option<String>) {
    if bytes.is_empty() {
        return (None, None);
    }
    match std::str::from_utf8(bytes) {
        Ok(s)
            if !s
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
        {
            (Some(s.to_owned()), None)
        }
        _ => (
            None,
            Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
        ),
    }
}

/// Decodes a body given as `text` or `b64` (empty when neither).
///
/// # Errors
/// `b64` that is not standard base64.
pub fn decode_body(text: Option<&str>, b64: Option<&str>) -> Result<Vec<u8>, FrameError> {
    match (text, b64) {
        (Some(t), _) => Ok(t.as_bytes().to_vec()),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| FrameError::Invalid(format!("body is not base64: {e}"))),
        (None, None) => Ok(Vec::new()),
    }
}

/// The `body` frames carrying `bytes` for request `id`, split at [`MAX_CHUNK_BYTES`] (on a
/// character boundary when the piece is text).
pub fn body_frames(id: &str, bytes: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let mut cut = rest.len().min(MAX_CHUNK_BYTES);
        if let Err(e) = std::str::from_utf8(&rest[..cut]) {
            // Keep a multi-byte character whole when the piece is otherwise text.
            if e.error_len().is_none() && e.valid_up_to() > 0 {
                cut = e.valid_up_to();
            }
        }
        let (text, b64) = encode_body(&rest[..cut]);
        out.push(Frame::Body {
            id: id.to_owned(),
            text,
            b64,
        });
        rest = &rest[cut..];
    }
    out
}

/// The headers of `pairs` whose (lower-cased) name is in `allowed`, at most [`MAX_HEADERS`],
/// values over [`MAX_HEADER_VALUE`] or not visible ASCII dropped.
pub fn pick_headers<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a [u8])>,
    allowed: &[&str],
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, value) in pairs {
        let name = name.to_ascii_lowercase();
        if !allowed.contains(&name.as_str()) || out.len() >= MAX_HEADERS {
            continue;
        }
        if value.len() > MAX_HEADER_VALUE {
            continue;
        }
        if let Ok(v) = std::str::from_utf8(value) {
            if v.chars()
                .all(|c| c == ' ' || c == '\t' || c.is_ascii_graphic())
            {
                out.insert(name, v.to_owned());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_refuse_bad_ones() {
        let f = Frame::Request {
            id: "r1".into(),
            method: "POST".into(),
            path: "/".into(),
            headers: BTreeMap::from([("content-type".into(), "application/json".into())]),
            text: Some("{}".into()),
            b64: None,
        };
        assert_eq!(Frame::parse(&f.to_text()), Ok(f));
        let big = format!(r#"{{"type":"end","id":"{}"}}"#, "x".repeat(MAX_FRAME_BYTES));
        assert!(matches!(Frame::parse(&big), Err(FrameError::TooLarge(_))));
        for bad in [
            r#"{"type":"end","id":""}"#,
            r#"{"type":"nope","id":"a"}"#,
            r#"{"type":"end","id":"a","extra":1}"#,
            r#"{"type":"body","id":"a","text":"x","b64":"eA=="}"#,
            r#"{"type":"request","id":"a","method":"GET","path":"x"}"#,
        ] {
            assert!(
                matches!(Frame::parse(bad), Err(FrameError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn bodies_split_and_encode() {
        let text = "é".repeat(MAX_CHUNK_BYTES); // 2 bytes each: two and a bit frames
        let frames = body_frames("a", text.as_bytes());
        assert_eq!(frames.len(), 2);
        let mut joined = Vec::new();
        for f in &frames {
            let Frame::Body { text, b64, .. } = f else {
                panic!("not a body frame")
            };
            assert!(b64.is_none(), "text stays text across the cut");
            joined.extend(decode_body(text.as_deref(), b64.as_deref()).expect("decodes"));
        }
        assert_eq!(joined, text.as_bytes());
        let (t, b) = encode_body(&[0, 159, 1]);
        assert_eq!(t, None);
        assert_eq!(
            decode_body(None, b.as_deref()).expect("b64"),
            vec![0, 159, 1]
        );
    }
}
