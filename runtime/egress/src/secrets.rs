//! Secrets at egress: a skill granted a secret for a set of origins holds only a
//! **placeholder** (`molecule-secret-<NAME>-<32 hex>`); this module puts the real value into
//! the outgoing requests to those origins and refuses a placeholder anywhere else.
//!
//! [`EgressSecrets`] is built once per component version from its [`SecretBinding`]s and
//! shared by every store. [`EgressSecrets::prepare`] runs on each request after the origin
//! allowlist passed it:
//!
//! * **headers**: every placeholder in a header value is replaced by the secret's value when
//!   the request's origin is one of the secret's origins (the value is marked sensitive);
//!   otherwise the request is refused. A placeholder in a header *name*, the method or the
//!   URL (path, query) is always refused: those are logged and never rewritten.
//! * **body**: when the component holds any secret, the request body is buffered (at most
//!   `max_body` bytes, and within the call's byte budget, counted as it arrives) and scanned:
//!   a placeholder is replaced only for a secret configured with `body: true` and an origin
//!   of that secret; any other placeholder in the body refuses the request. A body larger
//!   than `max_body` is refused (it cannot be checked), naming the limit.
//!
//! * **encodings**: the request asks for `Accept-Encoding: identity` (whatever the guest
//!   asked for) and carries no `TE`, so responses can be redacted byte for byte.
//!
//! Every refusal is `internal-error(text)` for the guest and one warning in the host log; both
//! name the component, the secret's *name*, the origin and the config key — never the value.
//! Responses are redacted by [`crate::redact`].

use std::fmt;
use std::time::Duration;

use aho_corasick::{AhoCorasick, MatchKind};
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH};
use http::Request;
use http_body_util::{BodyExt, Full, Limited};
use wasmtime_wasi_http::{Error, WasiBody};

use crate::policy::{EgressPolicy, Grant, PolicyError, RequestHost, Scheme};

/// The prefix of every placeholder; the rest is `<NAME>-<32 lowercase hex digits>`.
pub const PLACEHOLDER_PREFIX: &str = "molecule-secret-";

/// A fresh placeholder for the secret `name`: `molecule-secret-<name>-<32 hex>`, with 128
/// random bits from the operating system (`getrandom`), so it is unguessable and differs per
/// call (call it once per secret per workspace boot).
///
/// # Errors
/// The operating system's random source failed.
pub fn new_placeholder(name: &str) -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{PLACEHOLDER_PREFIX}{name}-{hex}"))
}

/// One secret as the egress layer uses it. `Debug` never prints the value.
#[derive(Clone)]
pub struct SecretBinding {
    name: String,
    key: String,
    placeholder: String,
    value: String,
    origins: EgressPolicy,
    body: bool,
    /// Granted by the list form (`secrets: [NAME]`): its origins are the entry's `hosts`.
    list_form: bool,
}

impl fmt::Debug for SecretBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretBinding")
            .field("name", &self.name)
            .field("key", &self.key)
            .field("placeholder", &self.placeholder)
            .field("value", &"<redacted>")
            .field("origins", &self.origins.origins())
            .field("body", &self.body)
            .finish()
    }
}

impl SecretBinding {
    /// The secret `name` (granted under the config key `key`, e.g.
    /// `grants.skills.web-fetch.secrets.API_TOKEN`), known to the guest as `placeholder`,
    /// whose `value` goes to `hosts` (`scheme://host[:port]`, `*.domain` patterns allowed: the
    /// allowlist's syntax) — in headers, and in bodies when `body`.
    ///
    /// # Errors
    /// An entry of `hosts` that is not an origin ([`PolicyError`] names `key.hosts`).
    pub fn new<S: AsRef<str>>(
        name: &str,
        key: &str,
        placeholder: &str,
        value: &str,
        hosts: &[S],
        body: bool,
    ) -> Result<Self, PolicyError> {
        let origins = EgressPolicy::with_key(name, &format!("{key}.hosts"), hosts)?;
        Ok(SecretBinding {
            name: name.to_owned(),
            key: key.to_owned(),
            placeholder: placeholder.to_owned(),
            value: value.to_owned(),
            origins,
            body,
            list_form: false,
        })
    }

    /// The same binding granted by the list form `<entry>.secrets: [NAME]` (headers only, to
    /// the entry's `hosts`): refusals then name `<entry>.hosts` and the mapping form to write,
    /// never keys the list form does not have.
    pub fn from_list_form(mut self) -> Self {
        self.list_form = true;
        self
    }

    /// The config key whose origins the value may go to, as the refusals name it.
    fn hosts_key(&self) -> String {
        match self.key.rsplit_once(".secrets.") {
            Some((entry, _)) if self.list_form => format!("{entry}.hosts"),
            _ => format!("{}.hosts", self.key),
        }
    }

    /// How to allow the value in request bodies, as the refusal says it.
    fn body_fix(&self) -> String {
        match self.key.rsplit_once(".secrets.") {
            Some((entry, name)) if self.list_form => format!(
                "the list form `{entry}.secrets: [{name}]` substitutes headers only; to allow \
                 bodies write the mapping form `{entry}.secrets: {{{name}: {{hosts: [...], \
                 body: true}}}}` in config.yaml"
            ),
            _ => format!(
                "it is substituted in headers only; to allow bodies set {}.body: true in \
                 config.yaml",
                self.key
            ),
        }
    }

    /// The secret's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the guest holds instead of the value.
    pub fn placeholder(&self) -> &str {
        &self.placeholder
    }

    /// Whether the value may be sent to `scheme://host:port`.
    fn allows(&self, scheme: Scheme, host: &RequestHost, port: u16) -> bool {
        self.origins.check(scheme, host, port) != Grant::Denied
    }
}

/// Where a request is going, for the checks of [`EgressSecrets::prepare`].
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    /// The request's scheme.
    pub scheme: Scheme,
    /// The request's host.
    pub host: &'a RequestHost,
    /// The request's port.
    pub port: u16,
    /// `scheme://host:port`, for messages.
    pub origin: &'a str,
}

/// The secrets of one component: placeholder search, substitution and (for responses) value
/// search. Build it once per component version; cheap to share in an `Arc`.
pub struct EgressSecrets {
    component: String,
    bindings: Vec<SecretBinding>,
    placeholders: AhoCorasick,
    /// Searches the values (non-empty ones only); pattern `i` is `bindings[value_of[i]]`.
    values: Option<AhoCorasick>,
    value_lens: Vec<usize>,
    longest_value: usize,
    max_body: u64,
}

impl fmt::Debug for EgressSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EgressSecrets")
            .field("component", &self.component)
            .field("bindings", &self.bindings)
            .field("max_body", &self.max_body)
            .finish()
    }
}

/// Building the searchers failed (only possible for absurdly large secrets).
#[derive(Debug, thiserror::Error)]
#[error("secrets of `{component}`: {source}")]
pub struct SecretsError {
    component: String,
    source: aho_corasick::BuildError,
}

impl EgressSecrets {
    /// The secrets of `component`; request bodies are buffered up to `max_body` bytes to be
    /// scanned (use the policy's response cap, [`crate::DEFAULT_MAX_RESPONSE_BYTES`]).
    ///
    /// # Errors
    /// The pattern searchers could not be built ([`SecretsError`]).
    pub fn new(
        component: &str,
        bindings: Vec<SecretBinding>,
        max_body: u64,
    ) -> Result<Self, SecretsError> {
        let wrap = |source| SecretsError {
            component: component.to_owned(),
            source,
        };
        let placeholders = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(bindings.iter().map(|b| b.placeholder.as_bytes()))
            .map_err(wrap)?;
        let values: Vec<&[u8]> = bindings
            .iter()
            .map(|b| b.value.as_bytes())
            .filter(|v| !v.is_empty())
            .collect();
        let value_lens = values.iter().map(|v| v.len()).collect();
        let longest_value = values.iter().map(|v| v.len()).max().unwrap_or(0);
        let values = match values.is_empty() {
            true => None,
            false => Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(values)
                    .map_err(wrap)?,
            ),
        };
        Ok(EgressSecrets {
            component: component.to_owned(),
            bindings,
            placeholders,
            values,
            value_lens,
            longest_value,
            max_body,
        })
    }

    /// Whether there is nothing to substitute or redact.
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    /// The secrets' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.bindings.iter().map(|b| b.name.as_str())
    }

    /// The searcher of values and each pattern's length, for response redaction.
    pub(crate) fn value_search(&self) -> Option<(&AhoCorasick, &[usize], usize)> {
        self.values
            .as_ref()
            .map(|ac| (ac, self.value_lens.as_slice(), self.longest_value))
    }

    /// `request` with the placeholders replaced by values where allowed, or the refusal the
    /// guest gets. Reads the whole body (bounded by `max_body` and `wait`).
    pub async fn prepare(
        &self,
        request: Request<WasiBody>,
        to: Destination<'_>,
        wait: Duration,
    ) -> Result<Request<WasiBody>, Error> {
        if let Some(i) = self.find(request.uri().to_string().as_bytes()) {
            return Err(self.refuse(i, to, "the URL (only headers and bodies are rewritten)"));
        }
        if let Some(i) = self.find(request.method().as_str().as_bytes()) {
            return Err(self.refuse(i, to, "the method"));
        }
        let (mut parts, body) = request.into_parts();
        for (name, value) in parts.headers.iter_mut() {
            if let Some(i) = self.find(name.as_str().as_bytes()) {
                return Err(self.refuse(i, to, "a header name"));
            }
            let where_ = format!("header `{name}`");
            if let Some(new) = self.substitute(value.as_bytes(), to, &where_, false)? {
                let mut new = HeaderValue::from_bytes(&new).map_err(|_| {
                    self.fail(format!(
                        "a secret's value cannot be sent in {where_}: it is not a valid header \
                         value (control characters or line breaks)"
                    ))
                })?;
                new.set_sensitive(true);
                *value = new;
            }
        }
        ask_identity(&mut parts.headers);
        let bytes = self.read_body(body, wait).await?;
        let (bytes, trailers) = match self.substitute(&bytes.0, to, "the request body", true)? {
            Some(new) => (Bytes::from(new), bytes.1),
            None => bytes,
        };
        if parts.headers.contains_key(CONTENT_LENGTH) {
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len() as u64));
        }
        if let Some(t) = &trailers {
            for (name, value) in t {
                if self.find(name.as_str().as_bytes()).is_some()
                    || self.find(value.as_bytes()).is_some()
                {
                    return Err(self.fail(
                        "a secret placeholder is in a request trailer; trailers are never \
                         rewritten: send it in a header"
                            .to_owned(),
                    ));
                }
            }
        }
        let body = Full::new(bytes).map_err(|never| match never {});
        let body = match trailers {
            Some(t) => body
                .with_trailers(async move { Some(Ok(t)) })
                .boxed_unsync(),
            None => body.boxed_unsync(),
        };
        Ok(Request::from_parts(parts, body))
    }

    /// The first placeholder in `text`, as an index into the bindings.
    fn find(&self, text: &[u8]) -> Option<usize> {
        self.placeholders.find(text).map(|m| m.pattern().as_usize())
    }

    /// `text` with each placeholder replaced by its value (`None`: no placeholder); refuses a
    /// placeholder whose secret may not go to `to` (or, in a body, is not configured for it).
    fn substitute(
        &self,
        text: &[u8],
        to: Destination<'_>,
        where_: &str,
        in_body: bool,
    ) -> Result<Option<Vec<u8>>, Error> {
        let mut out = Vec::new();
        let (mut pos, mut matched) = (0, false);
        for m in self.placeholders.find_iter(text) {
            matched = true;
            let i = m.pattern().as_usize();
            let binding = &self.bindings[i];
            if !binding.allows(to.scheme, to.host, to.port) {
                return Err(self.refuse(i, to, where_));
            }
            if in_body && !binding.body {
                return Err(self.fail(format!(
                    "secret `{}` is in the request body to {}, but {}",
                    binding.name,
                    to.origin,
                    binding.body_fix()
                )));
            }
            out.extend_from_slice(&text[pos..m.start()]);
            out.extend_from_slice(binding.value.as_bytes());
            pos = m.end();
        }
        if !matched {
            return Ok(None);
        }
        out.extend_from_slice(&text[pos..]);
        Ok(Some(out))
    }

    /// The whole body (data and trailers), read within `max_body` bytes and `wait`.
    async fn read_body(
        &self,
        body: WasiBody,
        wait: Duration,
    ) -> Result<(Bytes, Option<http::HeaderMap>), Error> {
        let limit = usize::try_from(self.max_body).unwrap_or(usize::MAX);
        let collected = tokio::time::timeout(wait, Limited::new(body, limit).collect()).await;
        let collected = match collected {
            Err(_) => {
                return Err(self.fail(format!(
                    "the request body was not finished within {wait:?}; a skill holding secrets \
                     must finish its body before the request is sent (it is checked for \
                     secret placeholders)"
                )))
            }
            Ok(Ok(c)) => c,
            Ok(Err(err)) => {
                return Err(match err.downcast::<Error>() {
                    Ok(err) => *err,
                    Err(_) => self.fail(format!(
                        "the request body is larger than {} bytes, the most a skill holding \
                         secrets may send in one request (bodies are checked for secret \
                         placeholders before they are sent)",
                        self.max_body
                    )),
                })
            }
        };
        let trailers = collected.trailers().cloned();
        Ok((collected.to_bytes(), trailers))
    }

    /// Refuses a request carrying secret `i`'s placeholder in `where_` to `to`.
    fn refuse(&self, i: usize, to: Destination<'_>, where_: &str) -> Error {
        let b = &self.bindings[i];
        let allowed: Vec<String> = b.origins.origins().iter().map(|o| o.to_string()).collect();
        let allowed = match allowed.is_empty() {
            true => "no origin".to_owned(),
            false => allowed.join(", "),
        };
        self.fail(format!(
            "secret `{}` may not be sent to {} (its placeholder is in {where_}); it may go to \
             {allowed} only, as granted under {} in config.yaml",
            b.name,
            to.origin,
            b.hosts_key()
        ))
    }

    /// The refusal error, logged once with the component.
    fn fail(&self, text: String) -> Error {
        tracing::warn!(component = %self.component, "outgoing HTTP refused: {text}");
        Error::InternalError(Some(text))
    }
}

/// Asks for an unencoded response, so `crate::redact` can find echoed values:
/// `Accept-Encoding: identity` replaces whatever the guest asked for, and `TE` (transfer
/// codings) is removed.
pub fn ask_identity(headers: &mut http::HeaderMap) {
    headers.remove(http::header::TE);
    headers.insert(
        http::header::ACCEPT_ENCODING,
        http::HeaderValue::from_static("identity"),
    );
}
