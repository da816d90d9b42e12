//! Response redaction for a component holding secrets: a response (from any origin) that
//! echoes a secret's value has each occurrence replaced, before the guest reads it, by a mask
//! of the same length (`*` repeated), in header values and in the body. The same length keeps
//! `content-length` true. Masking is an oracle: a guest that gets a granted origin to echo a
//! guessed string learns its length and whether it equals the value (a short value can be
//! guessed this way; the runtime warns at boot about values under 8 bytes).
//!
//! Redaction matches the value's exact bytes only, so a component holding secrets never gets
//! a compressed response: its requests go out with `Accept-Encoding: identity` (and no `TE`),
//! and a response with any other `content-encoding` (or a transfer coding other than
//! `chunked`) is refused ([`check_encoding`]), naming the encoding.
//!
//! The body is redacted as it streams: each chunk is scanned together with the last
//! `longest value − 1` bytes held back from the previous one, so a value split across chunks
//! is found too; the held-back bytes are released at the end of the body.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_ENCODING, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use wasmtime_wasi_http::Error;

use crate::secrets::EgressSecrets;

/// The mask byte written over a secret's value.
pub const MASK: u8 = b'*';

/// Redacts every secret value in `headers`' values in place.
pub fn redact_headers(secrets: &EgressSecrets, headers: &mut HeaderMap) {
    let Some((search, _, _)) = secrets.value_search() else {
        return;
    };
    for value in headers.values_mut() {
        if !search.is_match(value.as_bytes()) {
            continue;
        }
        let mut bytes = value.as_bytes().to_vec();
        for m in search.find_iter(value.as_bytes()) {
            bytes[m.start()..m.end()].fill(MASK);
        }
        if let Ok(masked) = HeaderValue::from_bytes(&bytes) {
            *value = masked;
        }
    }
}

/// Refuses a response whose body is encoded (its secret values could not be found to mask):
/// a `content-encoding` other than `identity`, or a `transfer-encoding` other than `chunked`.
/// The error names the component, the origin and the encoding.
pub fn check_encoding(component: &str, origin: &str, headers: &HeaderMap) -> Result<(), Error> {
    let codings = |name| {
        headers
            .get_all(name)
            .iter()
            .flat_map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split(',')
                    .map(|c| c.trim().to_ascii_lowercase())
                    .collect::<Vec<_>>()
            })
            .filter(|c| !c.is_empty())
            .collect::<Vec<_>>()
    };
    let content = codings(CONTENT_ENCODING);
    let transfer = codings(TRANSFER_ENCODING);
    let bad = content
        .iter()
        .find(|c| *c != "identity")
        .map(|c| ("content-encoding", c))
        .or_else(|| {
            transfer
                .iter()
                .find(|c| *c != "chunked" && *c != "identity")
                .map(|c| ("transfer-encoding", c))
        });
    let Some((header, coding)) = bad else {
        return Ok(());
    };
    let coding: String = coding
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(40)
        .collect();
    let text = format!(
        "the response from {origin} is refused: it has `{header}: {coding}`, and a component \
         holding secrets only reads unencoded responses (secret values in them are masked); \
         the request asked for `Accept-Encoding: identity`"
    );
    tracing::warn!(component, "outgoing HTTP refused: {text}");
    Err(Error::InternalError(Some(text)))
}

/// A response body with every secret value masked (see the module docs).
pub struct RedactedBody<B> {
    inner: B,
    secrets: Arc<EgressSecrets>,
    /// Bytes held back from the last chunk (a value may continue in the next).
    carry: BytesMut,
    /// Trailers that arrived while bytes were held back: sent after them.
    trailers: Option<HeaderMap>,
    done: bool,
}

impl<B> RedactedBody<B> {
    /// Redacts `inner` with `secrets`' values.
    pub fn new(inner: B, secrets: Arc<EgressSecrets>) -> Self {
        RedactedBody {
            inner,
            secrets,
            carry: BytesMut::new(),
            trailers: None,
            done: false,
        }
    }

    /// Masks the held-back bytes plus `chunk`; returns what may be released now and keeps the
    /// rest (everything, when `last`, is released).
    fn scan(&mut self, chunk: &[u8], last: bool) -> Bytes {
        self.carry.extend_from_slice(chunk);
        let Some((search, _, longest)) = self.secrets.value_search() else {
            return self.carry.split().freeze();
        };
        let len = self.carry.len();
        let safe = if last {
            len
        } else {
            len.saturating_sub(longest - 1)
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
        self.carry.split_to(masked_to.max(safe)).freeze()
    }
}

impl<B: Body<Data = Bytes, Error = Error> + Unpin> Body for RedactedBody<B> {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        loop {
            if this.done {
                if !this.carry.is_empty() {
                    let rest = this.scan(&[], true);
                    return Poll::Ready(Some(Ok(Frame::data(rest))));
                }
                return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                None => this.done = true,
                Some(Err(err)) => {
                    this.done = true;
                    this.carry.clear();
                    return Poll::Ready(Some(Err(err)));
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        let out = this.scan(&data, false);
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    Err(frame) => {
                        if let Ok(mut trailers) = frame.into_trailers() {
                            redact_headers(&this.secrets, &mut trailers);
                            this.trailers = Some(trailers);
                        }
                        this.done = true;
                    }
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.carry.is_empty() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SecretBinding;
    use http_body_util::BodyExt;
    use std::collections::VecDeque;

    /// A body of ready data frames.
    struct Chunks(VecDeque<Bytes>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
        }
    }

    fn secrets(values: &[&str]) -> Arc<EgressSecrets> {
        let bindings = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let hosts: [&str; 0] = [];
                SecretBinding::new(&format!("S{i}"), "k", &format!("ph-{i}"), v, &hosts, false)
                    .unwrap()
            })
            .collect();
        Arc::new(EgressSecrets::new("c", bindings, 1024).unwrap())
    }

    async fn redact(chunks: &[&str], values: &[&str]) -> String {
        let chunks = chunks
            .iter()
            .map(|c| Bytes::copy_from_slice(c.as_bytes()))
            .collect();
        let body = RedactedBody::new(Chunks(chunks), secrets(values));
        let bytes = body.collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn values_are_masked_across_chunk_boundaries() {
        let out = redact(&["token=sk-12", "34567&x=1 sk-1234567"], &["sk-1234567"]).await;
        assert_eq!(out, "token=**********&x=1 **********");
        let split = redact(&["s", "k", "-", "1234", "567", "!"], &["sk-1234567", "abc"]).await;
        assert_eq!(split, "**********!");
        let none = redact(&["nothing ", "here"], &["sk-1234567"]).await;
        assert_eq!(none, "nothing here");
    }

    #[test]
    fn encoded_responses_are_refused() {
        let mut headers = HeaderMap::new();
        assert!(check_encoding("c", "http://a:1", &headers).is_ok());
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("identity"));
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        assert!(check_encoding("c", "http://a:1", &headers).is_ok());
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("identity, GZip"));
        let err = format!(
            "{:?}",
            check_encoding("c", "http://a:1", &headers).unwrap_err()
        );
        assert!(err.contains("content-encoding: gzip"), "{err}");
        headers.remove(CONTENT_ENCODING);
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("br, chunked"));
        let err = format!(
            "{:?}",
            check_encoding("c", "http://a:1", &headers).unwrap_err()
        );
        assert!(err.contains("transfer-encoding: br"), "{err}");
    }

    #[test]
    fn header_values_are_masked() {
        let mut headers = HeaderMap::new();
        headers.insert("x-echo", HeaderValue::from_static("Bearer sk-1234567"));
        headers.insert("x-other", HeaderValue::from_static("fine"));
        redact_headers(&secrets(&["sk-1234567"]), &mut headers);
        assert_eq!(headers["x-echo"], "Bearer **********");
        assert_eq!(headers["x-other"], "fine");
    }
}
