//! `http_send`: one outgoing request whose method, headers and body come from the input, and
//! whose answer (status, every header, the body as text) comes back as is — so a test can
//! check what the host sent for the guest and what the guest was shown (secrets at egress).
//! Input `{url: "http://host:port/path", method?: "GET", headers?: {name: value}, body?: text}`;
//! output `{ok: true, status, headers: {name: value}, body}` or `{ok: false, error: text}`.

use std::collections::BTreeMap;

use molecule_guest_sdk::{json, Skill, ToolError, Value};
use serde::Deserialize;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

/// The input of `http_send`.
#[derive(Deserialize)]
struct Send {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
}

/// Runs `http_send`.
fn http_send(input: Send) -> Result<Value, ToolError> {
    Ok(match exchange(&input) {
        Ok(answer) => answer,
        Err(error) => json!({ "ok": false, "error": error }),
    })
}

/// Sends the request and reads the whole answer.
fn exchange(input: &Send) -> Result<Value, String> {
    let rest = input
        .url
        .strip_prefix("http://")
        .ok_or("only http:// URLs")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let fields: Vec<(String, Vec<u8>)> = input
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect();
    let headers = Fields::from_list(&fields).map_err(|e| format!("headers: {e:?}"))?;
    let request = OutgoingRequest::new(headers);
    let method = match input.method.as_deref().unwrap_or("GET") {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        other => Method::Other(other.to_owned()),
    };
    request.set_method(&method).map_err(|_| "method")?;
    request
        .set_scheme(Some(&Scheme::Http))
        .map_err(|_| "scheme")?;
    request
        .set_authority(Some(authority))
        .map_err(|_| "authority")?;
    let path = if path.is_empty() { "/" } else { path };
    request
        .set_path_with_query(Some(path))
        .map_err(|_| "path")?;
    let body = match &input.body {
        Some(_) => Some(request.body().map_err(|_| "body")?),
        None => None,
    };
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    if let (Some(body), Some(text)) = (body, &input.body) {
        write_body(body, text.as_bytes())?;
    }
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(format!("{code:?}")),
        _ => return Err("the host lost the response".into()),
    };
    let mut headers = BTreeMap::new();
    for (name, value) in response.headers().entries() {
        headers.insert(name, String::from_utf8_lossy(&value).into_owned());
    }
    let status = response.status();
    let incoming = response.consume().map_err(|_| "consume")?;
    let stream = incoming.stream().map_err(|_| "stream")?;
    let mut out = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => out.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(err)) => {
                return Err(match wasip2::http::types::http_error_code(&err) {
                    Some(code) => format!("{code:?}"),
                    None => err.to_debug_string(),
                })
            }
        }
    }
    let body = String::from_utf8_lossy(&out).into_owned();
    Ok(json!({ "ok": true, "status": status, "headers": headers, "body": body }))
}

/// Writes `bytes` into the request body in small pieces and finishes it.
fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), String> {
    let stream = body.write().map_err(|_| "body stream")?;
    for piece in bytes.chunks(4096) {
        stream
            .blocking_write_and_flush(piece)
            .map_err(|e| format!("writing the body: {e:?}"))?;
    }
    drop(stream);
    OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))
}

/// Registers `http_send` on `skill`.
pub fn register(skill: Skill) -> Skill {
    skill.tool(
        "http_send",
        "Sends one request (`method`, `headers`, `body` as given) to `url` and returns the \
         status, every response header and the body.",
        json!({ "type": "object", "required": ["url"], "properties": {
            "url": { "type": "string" },
            "method": { "type": "string" },
            "headers": { "type": "object", "additionalProperties": { "type": "string" } },
            "body": { "type": "string" }
        } }),
        http_send,
    )
}
