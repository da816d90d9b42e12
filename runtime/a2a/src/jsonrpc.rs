//! The JSON-RPC 2.0 binding on `POST /`: request validation (Content-Type, size, JSON, envelope),
//! `A2A-Version` handling, 1.0 and 0.3 method names, and the answer in the matching version's
//! shape (single JSON response or an SSE stream of JSON-RPC responses).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use crate::compat_v03;
use crate::error::A2aError;
use crate::manager::Shared;
use crate::ops::{self, Op, Reply};
use crate::server::{
    check_json_content_type, encoded_response, json_response, read_body, requested_version,
    transport_error, AppState, Binding, Version,
};
use crate::sse::{sse_response, v1_json};

/// Handles one `POST /` request.
pub(crate) async fn handle(state: &AppState, shared: &Arc<Shared>, req: Request) -> Response {
    if let Err(e) = check_json_content_type(req.headers()) {
        return transport_error(Binding::JsonRpc, &e);
    }
    let version = requested_version(req.headers());
    let bytes = match read_body(req, state.body_limit()).await {
        Ok(b) => b,
        Err(e) => return transport_error(Binding::JsonRpc, &e),
    };
    let body: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return error(&Value::Null, &A2aError::Parse(e.to_string())),
    };
    let mut obj = match body {
        Value::Object(obj) => obj,
        other => {
            let what = if other.is_array() {
                "batch requests are not supported"
            } else {
                "the request must be a JSON object"
            };
            return error(&Value::Null, &A2aError::InvalidRequest(what.into()));
        }
    };
    let id = obj.get("id").cloned().unwrap_or(Value::Null);
    if !(id.is_null() || id.is_string() || id.is_number()) {
        return error(
            &Value::Null,
            &A2aError::InvalidRequest("`id` must be a string, a number or null".into()),
        );
    }
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return error(
            &id,
            &A2aError::InvalidRequest("`jsonrpc` must be \"2.0\"".into()),
        );
    }
    let Some(method) = obj.get("method").and_then(Value::as_str) else {
        return error(
            &id,
            &A2aError::InvalidRequest("missing string field `method`".into()),
        );
    };
    let version = match version {
        Ok(v) => v,
        Err(e) => return error(&id, &e),
    };
    let (op, wire) = if let Some(v1) = compat_v03::method_to_v1(method) {
        match Op::from_method(v1) {
            Some(op) => (op, Version::V03),
            None => return error(&id, &A2aError::MethodNotFound(method.to_string())),
        }
    } else if let Some(op) = Op::from_method(method) {
        (op, Version::V1)
    } else {
        return error(&id, &A2aError::MethodNotFound(method.to_string()));
    };
    if wire != version {
        let (needs, sent) = match wire {
            Version::V1 => ("1.0", "0.3 (no A2A-Version header means 0.3)"),
            Version::V03 => ("0.3", "1.0"),
        };
        return error(
            &id,
            &A2aError::VersionNotSupported(format!(
                "method `{method}` needs A2A-Version {needs}, request is {sent}"
            )),
        );
    }
    let params = obj.remove("params").unwrap_or(Value::Null);
    let params = if wire == Version::V03 && matches!(op, Op::SendMessage | Op::SendStreamingMessage)
    {
        match compat_v03::send_params_to_v1(&params) {
            Ok(p) => p,
            Err(e) => return error(&id, &e),
        }
    } else {
        params
    };
    match ops::run(state, shared, op, params).await {
        Ok(Reply::Encoded(text)) if wire == Version::V1 => result_response(&id, &text),
        Ok(Reply::Encoded(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(v) => json_response(
                StatusCode::OK,
                &json!({"jsonrpc": "2.0", "id": id, "result": to_v03(op, &v)}),
            ),
            Err(e) => error(&id, &A2aError::Internal(format!("re-read result: {e}"))),
        },
        Ok(Reply::Json(v)) => {
            let result = if wire == Version::V03 {
                to_v03(op, &v)
            } else {
                v
            };
            json_response(
                StatusCode::OK,
                &json!({"jsonrpc": "2.0", "id": id, "result": result}),
            )
        }
        Ok(Reply::Stream(rx)) => sse_response(rx, move |ev| {
            let v = v1_json(ev);
            let result = if wire == Version::V03 {
                compat_v03::stream_response_to_v03(&v)
            } else {
                v
            };
            json!({"jsonrpc": "2.0", "id": id, "result": result})
        }),
        Err(e) => error(&id, &e),
    }
}

fn to_v03(op: Op, v: &Value) -> Value {
    match op {
        Op::SendMessage => compat_v03::stream_response_to_v03(v),
        Op::GetTask | Op::CancelTask => compat_v03::task_to_v03(v),
        Op::ListTasks => {
            let mut out = v.clone();
            if let Some(Value::Array(tasks)) = out.get_mut("tasks") {
                for t in tasks.iter_mut() {
                    *t = compat_v03::task_to_v03(t);
                }
            }
            out
        }
        _ => v.clone(),
    }
}

/// A JSON-RPC success response around an already-encoded 1.0 result.
fn result_response(id: &Value, result: &str) -> Response {
    let mut body = String::with_capacity(result.len() + 48);
    body.push_str(r#"{"jsonrpc":"2.0","id":"#);
    body.push_str(&id.to_string());
    body.push_str(r#","result":"#);
    body.push_str(result);
    body.push('}');
    encoded_response(StatusCode::OK, body)
}

/// A JSON-RPC error answered with HTTP 200.
fn error(id: &Value, e: &A2aError) -> Response {
    json_response(StatusCode::OK, &e.to_jsonrpc_response(id))
}
