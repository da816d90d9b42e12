//! `receipt_probe`: a well-behaved tool that spends a known amount of each quantity a call's
//! receipt counts — `requests` HTTP GETs to `url` (bodies read to the end) and `log_bytes`
//! bytes of `log` records — so a test can compare the receipt with what was spent.

use molecule_guest_sdk::log;
use molecule_guest_sdk::{json, Skill, ToolError, Value};
use serde::Deserialize;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, Method, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

/// Largest log record the probe writes, in bytes.
const RECORD: usize = 1024;

/// `receipt_probe` input.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    url: String,
    #[serde(default)]
    requests: u64,
    #[serde(default)]
    log_bytes: usize,
}

/// Logs `log_bytes` bytes, then sends `requests` GETs; returns the response bytes read.
fn receipt_probe(input: Probe) -> Result<Value, ToolError> {
    let mut left = input.log_bytes;
    while left > 0 {
        let n = left.min(RECORD);
        log::info(&"r".repeat(n));
        left -= n;
    }
    let mut received = 0u64;
    for _ in 0..input.requests {
        received += get(&input.url).map_err(ToolError::Failed)?;
    }
    Ok(json!({ "received": received }))
}

/// One GET of `url` (`http://host:port/path`); the body bytes read.
fn get(url: &str) -> Result<u64, String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let request = OutgoingRequest::new(Fields::new());
    request.set_method(&Method::Get).map_err(|_| "method")?;
    request.set_scheme(Some(&Scheme::Http)).map_err(|_| "scheme")?;
    request.set_authority(Some(authority)).map_err(|_| "authority")?;
    let path = if path.is_empty() { "/" } else { path };
    request.set_path_with_query(Some(path)).map_err(|_| "path")?;
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(format!("{code:?}")),
        _ => return Err("the host lost the response".into()),
    };
    let incoming = response.consume().map_err(|_| "consume")?;
    let stream = incoming.stream().map_err(|_| "stream")?;
    let mut read = 0u64;
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => read += chunk.len() as u64,
            Err(StreamError::Closed) => return Ok(read),
            Err(StreamError::LastOperationFailed(err)) => return Err(err.to_debug_string()),
        }
    }
}

/// Registers `receipt_probe` on `skill`.
pub fn register(skill: Skill) -> Skill {
    skill.tool(
        "receipt_probe",
        "Logs `log_bytes` bytes, then sends `requests` GETs to `url`.",
        json!({ "type": "object", "properties": {
            "url": { "type": "string" },
            "requests": { "type": "integer", "minimum": 0 },
            "log_bytes": { "type": "integer", "minimum": 0 }
        } }),
        receipt_probe,
    )
}
