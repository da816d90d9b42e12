//! The HTTP+JSON (REST) binding: `/message:send`, `/message:stream`, `/tasks`, `/tasks/{id}`,
//! `/tasks/{id}:cancel`, `/tasks/{id}:subscribe`, push-config paths and `/extendedAgentCard`.
//! Answers 1.0 JSON (`Content-Type: application/json`) and REST error bodies.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::error::A2aError;
use crate::http::{
    check_json_content_type, encoded_response, json_response, read_body, requested_version,
    transport_error_with_status, Version,
};
use crate::ops::{self, Op, Reply};
use crate::push_ops::PushOp;
use crate::sse::{rest_frame, sse_response};
use crate::state::AppState;

/// Handles one REST request.
pub(crate) async fn handle(state: &AppState, req: Request) -> Response {
    match route(state, req).await {
        Ok(resp) => resp,
        Err(e) => error(&e),
    }
}

fn error(e: &A2aError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    transport_error_with_status(status, e)
}

/// REST paths exist only in 1.0 (0.3 used `/v1/...`), so a missing header means 1.0 here.
fn check_version(headers: &HeaderMap) -> Result<(), A2aError> {
    let present = headers
        .get("a2a-version")
        .is_some_and(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace));
    if !present {
        return Ok(());
    }
    match requested_version(headers)? {
        Version::V1 => Ok(()),
        Version::V03 => Err(A2aError::VersionNotSupported(
            "0.3 over HTTP+JSON (use JSON-RPC on POST / or A2A-Version: 1.0)".into(),
        )),
    }
}

async fn route(state: &AppState, req: Request) -> Result<Response, A2aError> {
    check_version(req.headers())?;
    let path = req.uri().path().to_string();
    let query = parse_query(req.uri().query().unwrap_or(""));
    let method = req.method().clone();
    let not_found = || A2aError::MethodNotFound(format!("{method} {}", crate::error::clip(&path)));
    let mut raw = None;
    let (op, params) = match (method.clone(), path.as_str()) {
        (Method::POST, "/message:send") => {
            (Op::SendMessage, json_body(state, req, &mut raw).await?)
        }
        (Method::POST, "/message:stream") => (
            Op::SendStreamingMessage,
            json_body(state, req, &mut raw).await?,
        ),
        (Method::GET, "/tasks") => (Op::ListTasks, Value::Object(query)),
        (Method::GET, "/extendedAgentCard") => (Op::GetExtendedAgentCard, Value::Null),
        (m, p) => {
            let rest = p.strip_prefix("/tasks/").ok_or_else(not_found)?;
            if let Some((id, tail)) = rest.split_once('/') {
                if id.is_empty() {
                    return Err(not_found());
                }
                let op = push_route(&m, tail).ok_or_else(not_found)?;
                let task_id = percent_decode(id);
                let params = match op {
                    (PushOp::Create, _) => {
                        let mut body = json_body(state, req, &mut raw).await?;
                        if let Some(obj) = body.as_object_mut() {
                            obj.insert("taskId".into(), Value::String(task_id));
                        }
                        body
                    }
                    (_, Some(config_id)) => json!({"taskId": task_id, "id": config_id}),
                    (_, None) => {
                        // List: `?pageSize=&pageToken=` ride along.
                        let mut q = query;
                        q.insert("taskId".into(), Value::String(task_id));
                        Value::Object(q)
                    }
                };
                (Op::PushConfig(op.0), params)
            } else if let Some(id) = rest.strip_suffix(":cancel") {
                if m != Method::POST {
                    return Err(not_found());
                }
                (Op::CancelTask, json!({ "id": percent_decode(id) }))
            } else if let Some(id) = rest.strip_suffix(":subscribe") {
                if m != Method::POST && m != Method::GET {
                    return Err(not_found());
                }
                (Op::SubscribeToTask, json!({ "id": percent_decode(id) }))
            } else if m == Method::GET && !rest.is_empty() {
                let mut q = query;
                q.insert("id".into(), Value::String(percent_decode(rest)));
                (Op::GetTask, Value::Object(q))
            } else {
                return Err(not_found());
            }
        }
    };
    Ok(match ops::run(state, op, params, raw.as_deref()).await? {
        Reply::Json(v) => json_response(StatusCode::OK, &v),
        Reply::Encoded(text) => encoded_response(StatusCode::OK, text),
        Reply::Stream(rx) => sse_response(rx, rest_frame),
    })
}

/// The push-config operation of `method` on `tail` (the path after `/tasks/{id}/`), and the
/// config id in the path: `POST pushNotificationConfigs` (create), `GET
/// pushNotificationConfigs` (list), `GET|DELETE pushNotificationConfigs/{configId}`.
fn push_route(method: &Method, tail: &str) -> Option<(PushOp, Option<String>)> {
    let rest = tail.strip_prefix("pushNotificationConfigs")?;
    let config = match rest {
        "" => None,
        r => Some(percent_decode(
            r.strip_prefix('/')
                .filter(|c| !c.is_empty() && !c.contains('/'))?,
        )),
    };
    Some(match (method, config) {
        (&Method::POST, None) => (PushOp::Create, None),
        (&Method::GET, None) => (PushOp::List, None),
        (&Method::GET, Some(c)) => (PushOp::Get, Some(c)),
        (&Method::DELETE, Some(c)) => (PushOp::Delete, Some(c)),
        _ => return None,
    })
}

/// Reads a JSON body; `raw` gets its text (for errors that repeat a value as written).
async fn json_body(
    state: &AppState,
    req: Request,
    raw: &mut Option<String>,
) -> Result<Value, A2aError> {
    check_json_content_type(req.headers())?;
    let bytes = read_body(req, state.body_limit()).await?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|e| A2aError::Parse(format!("the body is not UTF-8: {e}")))?;
    let value = ops::parse_params(&text)?;
    *raw = Some(text);
    Ok(value)
}

/// Query parameters the A2A proto declares as booleans.
const BOOL_QUERY_PARAMS: &[&str] = &["includeArtifacts", "include_artifacts"];

/// Parses a query string into JSON members. Every value stays a string (a numeric
/// `contextId` is still an id, not a number), except that `true`/`false` of a boolean
/// parameter become booleans; integer parameters (`pageSize`, `historyLength`) are read from
/// their text and range-checked by the operation, whose errors name the parameter.
fn parse_query(q: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        let value = match v.as_str() {
            "true" | "false" if BOOL_QUERY_PARAMS.contains(&k.as_str()) => Value::Bool(v == "true"),
            _ => Value::String(v),
        };
        out.insert(k, value);
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_stay_text_except_booleans() {
        let q = parse_query("pageSize=2&includeArtifacts=true&contextId=a%20b&taskId=42&x=true");
        assert_eq!(q["pageSize"], "2");
        assert_eq!(q["includeArtifacts"], true);
        assert_eq!(q["contextId"], "a b");
        // An id made of digits is still a string, and only boolean parameters are converted.
        assert_eq!(q["taskId"], "42");
        assert_eq!(q["x"], "true");
    }

    #[test]
    fn percent_decode_handles_truncated_escape() {
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41"), "A");
    }
}
