//! web-fetch: an example molecule-runtime skill with one tool, `fetch`, that sends an HTTP GET
//! or HEAD through wasi:http/outgoing-handler and returns the status, a few headers and the
//! body as text, truncated. Which origins it may reach is the host's egress policy (the
//! skill's `hosts` grant); a denial comes back as a `denied` tool error saying what to grant.

//! The `web-fetch` skill: tool `fetch` makes one HTTP GET/HEAD request.

mod url;

use molecule_guest_sdk::{export_skill, json, Skill, ToolError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use url::Target;

/// Default body size returned when the caller gives no `max_bytes`.
const DEFAULT_MAX_BYTES: u64 = 32 * 1024;
/// Largest `max_bytes` a caller may ask for.
const MAX_MAX_BYTES: u64 = 1024 * 1024;
/// Response headers copied to the output (the rest are dropped to keep it short).
const KEPT_HEADERS: [&str; 6] = [
    "content-type",
    "content-length",
    "location",
    "last-modified",
    "etag",
    "retry-after",
];

/// Input of `fetch`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchInput {
    /// `http://` or `https://` URL.
    url: String,
    /// `GET` (default) or `HEAD`.
    method: Option<String>,
    /// Most body bytes to return (default 32 KiB, at most 1 MiB).
    max_bytes: Option<u64>,
}

/// Output of `fetch`.
#[derive(Serialize, Debug, PartialEq)]
struct FetchOutput {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
    /// True when the body was longer than `max_bytes` and was cut.
    truncated: bool,
}

/// The HTTP method, checked.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Verb {
    Get,
    Head,
}

/// Validated input: everything that can be checked without the network.
#[derive(Debug, PartialEq)]
struct Plan {
    target: Target,
    verb: Verb,
    max_bytes: u64,
}

/// Checks `input` and turns it into a [`Plan`]; errors name the field and the fix.
fn plan(input: FetchInput) -> Result<Plan, ToolError> {
    let target = Target::parse(&input.url).map_err(ToolError::InvalidInput)?;
    let verb = match input
        .method
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("GET") => Verb::Get,
        Some("HEAD") => Verb::Head,
        Some(other) => {
            return Err(ToolError::InvalidInput(format!(
                "field `method`: `{other}` is not supported; use \"GET\" or \"HEAD\""
            )))
        }
    };
    let max_bytes = input.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
    if max_bytes == 0 || max_bytes > MAX_MAX_BYTES {
        return Err(ToolError::InvalidInput(format!(
            "field `max_bytes`: {max_bytes} is out of range; use 1 to {MAX_MAX_BYTES}"
        )));
    }
    Ok(Plan {
        target,
        verb,
        max_bytes,
    })
}

/// Runs `fetch`.
fn fetch(input: FetchInput) -> Result<FetchOutput, ToolError> {
    let plan = plan(input)?;
    http::send(&plan)
}

/// The wasi:http calls (only meaningful inside a host).
mod http {
    use super::*;
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingRequest, Scheme};
    use wasip2::io::streams::StreamError;

    /// Sends the request of `plan` and reads at most `plan.max_bytes` of the body.
    pub(super) fn send(plan: &Plan) -> Result<FetchOutput, ToolError> {
        let t = &plan.target;
        let headers = Fields::from_list(&[
            ("user-agent".to_owned(), b"molecule-web-fetch/0.1".to_vec()),
            ("accept".to_owned(), b"*/*".to_vec()),
        ])
        .map_err(|e| ToolError::Failed(format!("building request headers: {e:?}")))?;
        let request = OutgoingRequest::new(headers);
        let method = match plan.verb {
            Verb::Get => Method::Get,
            Verb::Head => Method::Head,
        };
        let scheme = if t.https { Scheme::Https } else { Scheme::Http };
        let rejected = |what: &str| ToolError::InvalidInput(format!("field `url`: invalid {what}"));
        request
            .set_method(&method)
            .map_err(|_| rejected("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|_| rejected("scheme"))?;
        request
            .set_authority(Some(&t.authority))
            .map_err(|_| rejected("host or port"))?;
        request
            .set_path_with_query(Some(&t.path_and_query))
            .map_err(|_| rejected("path"))?;

        let future = outgoing_handler::handle(request, None).map_err(|e| explain(t, e))?;
        future.subscribe().block();
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(explain(t, code)),
            Some(Err(())) | None => {
                return Err(ToolError::Failed("the host lost the response".into()))
            }
        };

        let mut kept = BTreeMap::new();
        for (name, value) in response.headers().entries() {
            let name = name.to_ascii_lowercase();
            if KEPT_HEADERS.contains(&name.as_str()) {
                kept.insert(name, String::from_utf8_lossy(&value).into_owned());
            }
        }
        let status = response.status();
        let (body, truncated) = if plan.verb == Verb::Head {
            (Vec::new(), false)
        } else {
            read_body(t, &response, plan.max_bytes)?
        };
        Ok(FetchOutput {
            status,
            headers: kept,
            body: String::from_utf8_lossy(&body).into_owned(),
            truncated,
        })
    }

    /// Reads up to `max` bytes of the body; `true` when more was left.
    fn read_body(
        t: &Target,
        response: &wasip2::http::types::IncomingResponse,
        max: u64,
    ) -> Result<(Vec<u8>, bool), ToolError> {
        let body = response
            .consume()
            .map_err(|_| ToolError::Failed("the response body was already taken".into()))?;
        let stream = body
            .stream()
            .map_err(|_| ToolError::Failed("the response body has no stream".into()))?;
        let mut out = Vec::new();
        // Read one byte past the limit to learn whether the body was cut.
        while (out.len() as u64) <= max {
            let want = (max + 1 - out.len() as u64).min(64 * 1024);
            match stream.blocking_read(want) {
                Ok(chunk) => out.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(err)) => {
                    return Err(match wasip2::http::types::http_error_code(&err) {
                        Some(code) => explain(t, code),
                        None => ToolError::Failed(format!(
                            "reading the body of {}: {}",
                            t.origin(),
                            err.to_debug_string()
                        )),
                    });
                }
            }
        }
        let truncated = out.len() as u64 > max;
        out.truncate(max as usize);
        Ok((out, truncated))
    }

    /// A wasi:http error as a tool error that says what happened and what would fix it.
    fn explain(t: &Target, code: ErrorCode) -> ToolError {
        let origin = t.origin();
        match code {
            ErrorCode::HttpRequestDenied => ToolError::Denied(format!(
                "the host does not let this skill reach {origin}: it is not among the origins \
                 granted to it. Ask the operator to grant \"{origin}\" to this skill (the host's \
                 log names where: in a workspace config.yaml `grants.skills.<skill id>.hosts`, \
                 with `molecule-runtime call` the `--allow-host` flag)"
            )),
            ErrorCode::DestinationIpProhibited => ToolError::Denied(format!(
                "{} resolves to a private, loopback or link-local address, which this skill \
                 may only reach if the operator grants exactly \"{origin}\" (a *. wildcard \
                 grant is not enough)",
                t.host
            )),
            ErrorCode::DnsError(_) | ErrorCode::DnsTimeout | ErrorCode::DestinationNotFound => {
                ToolError::Failed(format!("could not resolve {}: check the host name", t.host))
            }
            ErrorCode::ConnectionRefused => {
                ToolError::Failed(format!("{origin} refused the connection"))
            }
            ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::HttpResponseTimeout => {
                ToolError::Failed(format!("{origin} did not answer in time; try again later"))
            }
            ErrorCode::HttpResponseBodySize(limit) => ToolError::Failed(format!(
                "the response from {origin} is larger than the host allows ({} bytes); \
                 use HEAD or ask for a smaller resource",
                limit.map_or("?".to_owned(), |l| l.to_string())
            )),
            ErrorCode::TlsCertificateError | ErrorCode::TlsProtocolError => ToolError::Failed(
                format!("TLS with {origin} failed (certificate or protocol error)"),
            ),
            other => ToolError::Failed(format!("request to {origin} failed: {other:?}")),
        }
    }
}

fn skill() -> Skill {
    Skill::new().tool(
        "fetch",
        "Fetches a web page or API response over HTTP(S) with GET (or HEAD) and returns the \
         status, a few headers (content-type, content-length, location, last-modified, etag, \
         retry-after) and the body as text, cut at max_bytes. Redirects are not followed: \
         call again with the `location` header. Only origins granted to this skill are \
         reachable.",
        json!({
            "type": "object",
            "properties": {
                "url": {"type": "string", "description": "http:// or https:// URL"},
                "method": {"type": "string", "enum": ["GET", "HEAD"], "default": "GET"},
                "max_bytes": {"type": "integer", "minimum": 1, "maximum": MAX_MAX_BYTES,
                              "default": DEFAULT_MAX_BYTES,
                              "description": "Most body bytes to return."}
            },
            "required": ["url"],
            "additionalProperties": false
        }),
        fetch,
    )
}

export_skill!(skill);

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_guest_sdk::Value;

    fn plan_of(input: Value) -> Result<Plan, ToolError> {
        plan(serde_json::from_value(input).map_err(|e| ToolError::InvalidInput(e.to_string()))?)
    }

    #[test]
    fn plans_requests() {
        let p = plan_of(json!({"url": "https://Example.com/a?b=1#frag"})).unwrap();
        assert_eq!(p.verb, Verb::Get);
        assert_eq!(p.max_bytes, DEFAULT_MAX_BYTES);
        assert_eq!(p.target.authority, "example.com");
        assert_eq!(p.target.path_and_query, "/a?b=1");
        let p =
            plan_of(json!({"url": "http://h:8080", "method": "head", "max_bytes": 10})).unwrap();
        assert_eq!((p.verb, p.max_bytes), (Verb::Head, 10));
        assert_eq!(p.target.origin(), "http://h:8080");
    }

    #[test]
    fn rejects_bad_input_naming_the_field() {
        for (input, hint) in [
            (
                json!({"url": "https://x", "method": "POST"}),
                "field `method`",
            ),
            (
                json!({"url": "https://x", "max_bytes": 0}),
                "field `max_bytes`",
            ),
            (
                json!({"url": "https://x", "max_bytes": 2_000_000}),
                "field `max_bytes`",
            ),
            (json!({"url": "ftp://x"}), "field `url`"),
        ] {
            match plan_of(input) {
                Err(ToolError::InvalidInput(t)) => assert!(t.contains(hint), "{t}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn describes_one_tool() {
        let specs = skill().describe();
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].name, "fetch");
    }
}
