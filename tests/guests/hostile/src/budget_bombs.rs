//! Budget bombs: tools that flood each channel the host gives a guest — log records, stdout
//! lines, wedged reports, memory writes, outgoing HTTP requests and bytes, task events and
//! artifact bytes — and report what the host answered, so a test can check the budget held.
//! Each returns `{"ok": <calls accepted>, "errors": <calls refused>, "first_error": <text>}`
//! (channels without an error variant return only what they sent).

use molecule_guest_sdk::events;
use molecule_guest_sdk::heartbeat;
use molecule_guest_sdk::log;
use molecule_guest_sdk::memory::{self, Scope};
use molecule_guest_sdk::types::{Artifact, Part, TaskState};
use molecule_guest_sdk::{json, Skill, ToolError, Value};
use serde::Deserialize;
use std::io::Write;

/// How many times, and how big each one is.
#[derive(Deserialize)]
struct Flood {
    #[serde(default = "default_count")]
    count: u64,
    #[serde(default)]
    bytes: usize,
}

fn default_count() -> u64 {
    100_000
}

/// Tallies the outcomes of a flood.
#[derive(Default)]
struct Tally {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn add<T, E: std::fmt::Debug>(&mut self, result: Result<T, E>) {
        match result {
            Ok(_) => self.ok += 1,
            Err(err) => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(format!("{err:?}"));
                }
            }
        }
    }

    fn json(&self) -> Result<Value, ToolError> {
        Ok(json!({ "ok": self.ok, "errors": self.errors, "first_error": self.first_error }))
    }
}

/// `count` log records of `bytes` bytes each (empty by default).
fn log_flood(input: Flood) -> Result<Value, ToolError> {
    let record = "L".repeat(input.bytes);
    for _ in 0..input.count {
        log::info(&record);
    }
    Ok(json!({ "sent": input.count }))
}

/// `count` stdout lines of `bytes` bytes each (empty lines by default).
fn print_flood(input: Flood) -> Result<Value, ToolError> {
    let mut line = "P".repeat(input.bytes);
    line.push('\n');
    let mut out = std::io::stdout();
    for _ in 0..input.count {
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
    Ok(json!({ "sent": input.count }))
}

/// `count` wedged reports, each a `bytes`-long reason after a line that tries to forge a log
/// record.
fn wedged_flood(input: Flood) -> Result<Value, ToolError> {
    let reason = format!("stuck\nFORGED ERROR record {}", "W".repeat(input.bytes));
    for _ in 0..input.count {
        heartbeat::report_wedged(&reason);
    }
    Ok(json!({ "sent": input.count }))
}

/// `count` memory commits of `bytes` bytes each (at least one).
fn memory_flood(input: Flood) -> Result<Value, ToolError> {
    let entry = "m".repeat(input.bytes.max(1));
    let mut tally = Tally::default();
    for _ in 0..input.count {
        tally.add(memory::commit(&entry, Scope::Local));
    }
    tally.json()
}

/// `count` status updates (`working`).
fn event_flood(input: Flood) -> Result<Value, ToolError> {
    let mut tally = Tally::default();
    for _ in 0..input.count {
        tally.add(events::status(TaskState::Working, None));
    }
    tally.json()
}

/// `count` artifact chunks of `bytes` bytes each.
fn artifact_flood(input: Flood) -> Result<Value, ToolError> {
    let chunk = Artifact {
        artifact_id: "flood".into(),
        name: None,
        parts: vec![Part::Text("a".repeat(input.bytes))],
        append: true,
        last_chunk: false,
    };
    let mut tally = Tally::default();
    for _ in 0..input.count {
        tally.add(events::artifact(&chunk));
    }
    tally.json()
}

/// Error text shown as is (not quoted) in `first_error`.
struct Text(String);

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `http_flood` input: `count` requests to `url` (`http://host:port/path`), each sending
/// `bytes` bytes of body (a POST; a GET when 0) and reading the whole response.
#[derive(Deserialize)]
struct HttpFlood {
    url: String,
    #[serde(default = "default_count")]
    count: u64,
    #[serde(default)]
    bytes: usize,
}

/// Sends the requests of `input` and tallies them; `received` is the response bytes read.
fn http_flood(input: HttpFlood) -> Result<Value, ToolError> {
    let mut tally = Tally::default();
    let mut received = 0u64;
    for _ in 0..input.count {
        let outcome = http::exchange(&input.url, input.bytes);
        if let Ok(n) = &outcome {
            received += n;
        }
        tally.add(outcome.map_err(Text));
    }
    let mut out = tally.json()?;
    out["received"] = json!(received);
    Ok(out)
}

/// One request through wasi:http.
mod http {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
    use wasip2::io::streams::StreamError;

    /// Sends `body_bytes` bytes to `url` and reads the answer; the body bytes read, or the
    /// first error (the wasi:http error code, or the stream error's text).
    pub(super) fn exchange(url: &str, body_bytes: usize) -> Result<u64, String> {
        let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let request = OutgoingRequest::new(Fields::new());
        let method = if body_bytes == 0 {
            Method::Get
        } else {
            Method::Post
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
        let body = match body_bytes {
            0 => None,
            _ => Some(request.body().map_err(|_| "body")?),
        };
        let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
        let sent = body.map_or(Ok(()), |body| send_body(body, body_bytes));
        future.subscribe().block();
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(format!("{code:?}")),
            _ => return Err("the host lost the response".into()),
        };
        sent?;
        let incoming = response.consume().map_err(|_| "consume")?;
        let stream = incoming.stream().map_err(|_| "stream")?;
        let mut read = 0u64;
        loop {
            match stream.blocking_read(64 << 10) {
                Ok(chunk) => read += chunk.len() as u64,
                Err(StreamError::Closed) => return Ok(read),
                Err(StreamError::LastOperationFailed(err)) => {
                    return Err(match wasip2::http::types::http_error_code(&err) {
                        Some(code) => format!("{code:?}"),
                        None => err.to_debug_string(),
                    })
                }
            }
        }
    }

    /// Writes `bytes` bytes into the request body and finishes it.
    fn send_body(body: OutgoingBody, bytes: usize) -> Result<(), String> {
        let stream = body.write().map_err(|_| "body stream")?;
        let chunk = vec![b'u'; 4096];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len());
            if let Err(err) = stream.blocking_write_and_flush(&chunk[..n]) {
                return Err(format!("writing the body: {err:?}"));
            }
            left -= n;
        }
        drop(stream);
        OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))
    }
}

/// Registers the budget bombs on `skill`.
pub fn register(skill: Skill) -> Skill {
    let flood = || {
        json!({ "type": "object", "properties": {
            "count": { "type": "integer", "minimum": 0 },
            "bytes": { "type": "integer", "minimum": 0 }
        } })
    };
    skill
        .tool(
            "log_flood",
            "Writes `count` log records of `bytes` bytes.",
            flood(),
            log_flood,
        )
        .tool(
            "print_flood",
            "Prints `count` stdout lines of `bytes` bytes.",
            flood(),
            print_flood,
        )
        .tool(
            "wedged_flood",
            "Reports itself wedged `count` times.",
            flood(),
            wedged_flood,
        )
        .tool(
            "memory_flood",
            "Commits `count` memories of `bytes` bytes.",
            flood(),
            memory_flood,
        )
        .tool(
            "event_flood",
            "Sends `count` status updates.",
            flood(),
            event_flood,
        )
        .tool(
            "artifact_flood",
            "Sends `count` artifact chunks of `bytes` bytes.",
            flood(),
            artifact_flood,
        )
        .tool(
            "http_flood",
            "Sends `count` requests to `url` with `bytes` of body each.",
            json!({ "type": "object", "required": ["url"], "properties": {
                "url": { "type": "string" },
                "count": { "type": "integer", "minimum": 0 },
                "bytes": { "type": "integer", "minimum": 0 }
            } }),
            http_flood,
        )
}
