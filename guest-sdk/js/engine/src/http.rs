//! `__moleculeHost.httpRequest`: one blocking request through `wasi:http/outgoing-handler`.
//! The host's egress policy decides which origins a skill may reach; a refusal is thrown as
//! `{kind: "denied"}` with the grant that would allow it (the same wording as the Python SDK
//! and the Rust `web-fetch` example).

use molecule_guest_sdk::serde_json;
use rquickjs::{Ctx, Error, Object, Result, TypedArray};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

use crate::host::{copy_bytes, throw};

/// Largest response body read into memory (bytes); the host has its own cap too.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Bytes per blocking write (wasi:io allows at most 4096).
const WRITE_CHUNK: usize = 4096;
/// Most bytes of request header names and values (the host refuses larger field sets with a
/// trap, so they are refused here first as invalid input).
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// `httpRequest(method, url, headersJson, body)` → `{status, headers, body}` (see the module
/// docs); `headersJson` and the answer's `headers` are JSON `[[name, value], ...]`.
pub fn request<'js>(
    ctx: Ctx<'js>,
    method: String,
    url: String,
    headers: String,
    body: Option<TypedArray<'js, u8>>,
) -> Result<Object<'js>> {
    let target = Target::parse(&url).map_err(|m| throw(&ctx, "invalid-input", m))?;
    let headers: Vec<(String, String)> = serde_json::from_str(&headers)
        .map_err(|e| throw(&ctx, "invalid-input", format!("headers: {e}")))?;
    let header_bytes: usize = headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(throw(
            &ctx,
            "invalid-input",
            format!("headers: {header_bytes} bytes, over the {MAX_HEADER_BYTES}-byte limit"),
        ));
    }
    let body = body.as_ref().map(copy_bytes).unwrap_or_default();
    let (status, headers, body) = send(&target, &method, headers, &body)
        .map_err(|(kind, message)| throw(&ctx, kind, message))?;
    let answer = Object::new(ctx.clone())?;
    answer.set("status", status)?;
    let headers = serde_json::to_string(&headers).map_err(|e| Error::new_from_js_message("headers", "json", e.to_string()))?;
    answer.set("headers", headers)?;
    answer.set("body", TypedArray::<u8>::new(ctx, body)?)?;
    Ok(answer)
}

/// A parsed `http(s)://authority/path?query` URL.
struct Target {
    https: bool,
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> std::result::Result<Self, String> {
        let bad = |why: &str| format!("url `{url}`: {why}");
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad("expected http:// or https://"));
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        if authority.contains('@') {
            return Err(bad("credentials in the URL are not allowed"));
        }
        let tail = tail.split('#').next().unwrap_or_default();
        let path = match tail {
            "" => "/".to_owned(),
            t if t.starts_with('?') => format!("/{t}"),
            t => t.to_owned(),
        };
        Ok(Target { https, authority: authority.to_owned(), path })
    }

    fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.authority)
    }
}

type Failure = (&'static str, String);
type Answer = (u16, Vec<(String, String)>, Vec<u8>);

fn send(t: &Target, method: &str, headers: Vec<(String, String)>, body: &[u8]) -> std::result::Result<Answer, Failure> {
    let invalid = |what: String| ("invalid-input", what);
    let list: Vec<(String, Vec<u8>)> = headers.into_iter().map(|(k, v)| (k, v.into_bytes())).collect();
    let fields = Fields::from_list(&list).map_err(|e| invalid(format!("headers: {e:?}")))?;
    let request = OutgoingRequest::new(fields);
    let method = match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_owned()),
    };
    let scheme = if t.https { Scheme::Https } else { Scheme::Http };
    let rejected = |what: &str| invalid(format!("url {}{}: invalid {what}", t.origin(), t.path));
    request.set_method(&method).map_err(|_| rejected("method"))?;
    request.set_scheme(Some(&scheme)).map_err(|_| rejected("scheme"))?;
    request.set_authority(Some(&t.authority)).map_err(|_| rejected("host or port"))?;
    request.set_path_with_query(Some(&t.path)).map_err(|_| rejected("path"))?;
    let out_body = request.body().map_err(|_| ("failed", "the request body was taken".into()))?;
    let future = outgoing_handler::handle(request, None).map_err(|e| explain(t, e))?;
    write_body(t, out_body, body)?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(explain(t, code)),
        Some(Err(())) | None => return Err(("failed", "the host lost the response".into())),
    };
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let incoming = response.consume().map_err(|_| ("failed", "the response body was taken".into()))?;
    let data = read_body(t, &incoming)?;
    Ok((status, headers, data))
}

/// Sends the request body; a server may answer and close before reading it all, and the
/// caller then still reads that answer.
fn write_body(t: &Target, out_body: OutgoingBody, body: &[u8]) -> std::result::Result<(), Failure> {
    let mut closed = false;
    if !body.is_empty() {
        let stream = out_body.write().map_err(|_| ("failed", "the request body stream was taken".into()))?;
        for chunk in body.chunks(WRITE_CHUNK) {
            match stream.blocking_write_and_flush(chunk) {
                Ok(()) => {}
                Err(StreamError::Closed) => {
                    closed = true;
                    break;
                }
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(("failed", format!("sending the body to {}: {}", t.origin(), first_line(&e.to_debug_string()))))
                }
            }
        }
        drop(stream);
    }
    match OutgoingBody::finish(out_body, None) {
        Err(code) if !closed => Err(explain(t, code)),
        _ => Ok(()),
    }
}

fn read_body(t: &Target, incoming: &IncomingBody) -> std::result::Result<Vec<u8>, Failure> {
    let stream = incoming.stream().map_err(|_| ("failed", "the response body has no stream".into()))?;
    let mut out = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => out.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(err)) => {
                return Err(match wasip2::http::types::http_error_code(&err) {
                    Some(code) => explain(t, code),
                    None => ("failed", format!("reading the body of {}: {}", t.origin(), first_line(&err.to_debug_string()))),
                })
            }
        }
        if out.len() > MAX_RESPONSE_BYTES {
            return Err(("failed", format!("the response from {} is larger than {MAX_RESPONSE_BYTES} bytes", t.origin())));
        }
    }
    Ok(out)
}

/// The first line of a host error's debug text (the rest can be a host backtrace, which
/// is no business of the guest's).
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// A wasi:http error code as `(kind, message)` that says what happened and what fixes it.
fn explain(t: &Target, code: ErrorCode) -> Failure {
    let origin = t.origin();
    match code {
        ErrorCode::HttpRequestDenied => ("denied", format!(
            "the host does not let this skill reach {origin}: it is not among the origins \
             granted to it. In a workspace the skill's SKILL.md must request it \
             (`capabilities: {{hosts: [\"{origin}\"]}}`) and config.yaml grant it \
             (`grants.skills.<skill id>.hosts`); with `molecule-runtime call`, pass \
             `--allow-host {origin}`. The host's log names the exact key"
        )),
        ErrorCode::DestinationIpProhibited => ("denied", format!(
            "{origin} resolves to a private, loopback or link-local address, which this skill \
             may only reach if the operator grants exactly \"{origin}\""
        )),
        ErrorCode::DnsError(_) | ErrorCode::DnsTimeout | ErrorCode::DestinationNotFound => {
            ("failed", format!("could not resolve the host of {origin}"))
        }
        ErrorCode::ConnectionRefused => ("failed", format!("{origin} refused the connection")),
        ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            ("failed", format!("{origin} did not answer in time"))
        }
        ErrorCode::InternalError(Some(detail)) => ("failed", format!("request to {origin} failed: {detail}")),
        other => ("failed", format!("request to {origin} failed: {other:?}")),
    }
}
