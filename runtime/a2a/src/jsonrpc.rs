//! The JSON-RPC 2.0 binding on `POST /`: request validation (Content-Type, size, JSON, envelope),
//! `A2A-Version` handling, 1.0 and 0.3 method names, and the answer in the matching version's
//! shape (single JSON response or an SSE stream of JSON-RPC responses).

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::compat_v03;
use crate::error::A2aError;
use crate::http::{
    check_json_content_type, encoded_response, read_body, requested_version, transport_error,
    Binding, Version,
};
use crate::manager::EventReceiver;
use crate::ops::{self, Op, Reply};
use crate::push_ops::PushOp;
use crate::sse::{sse_response, v1_json};
use crate::state::AppState;

/// The members of a request object the server reads, each kept as the exact JSON text the
/// client sent (so the `id` is echoed byte for byte, even a number no `f64` holds). `None` is a
/// missing member, `Some("null")` an explicit `null`. Other members are ignored.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default, deserialize_with = "member")]
    jsonrpc: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "member")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "member")]
    method: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "member")]
    params: Option<&'a RawValue>,
}

/// A present member, `null` included (a plain `Option` would turn `null` into `None`).
fn member<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(d).map(Some)
}

/// A valid JSON-RPC 2.0 request of this server.
struct RpcRequest<'a> {
    /// The id to echo: a JSON string or number, exactly as sent.
    id: &'a RawValue,
    method: String,
    /// The params: an object, or `Value::Null` when absent or `null`.
    params: Value,
    /// The params' JSON text as sent (for errors that repeat a value as written).
    raw_params: Option<&'a RawValue>,
}

/// What a request that cannot be answered normally gets: the id to answer with (JSON `null`
/// when the id itself is missing or invalid) and the error.
type Refusal<'a> = (&'a RawValue, A2aError);

/// Why an `id` member is refused, or `None` for a valid one (a string or a number).
fn invalid_id(id: &RawValue) -> Option<String> {
    let what = match id.get().as_bytes().first() {
        Some(b'"' | b'-' | b'0'..=b'9') => return None,
        Some(b'n') => {
            return Some(
                "`id` is null: this server answers only requests with a string or number id \
                 (a null id cannot be told apart from the null id of an error reply)"
                    .into(),
            )
        }
        Some(b't' | b'f') => "a boolean",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        _ => "not a JSON value",
    };
    Some(format!("`id` must be a string or a number, got {what}"))
}

/// Validates the envelope of one JSON-RPC request (JSON-RPC 2.0 §4, §5.1).
///
/// A2A requests always carry an id and expect a reply, so a **notification** (a request
/// object without `id`) is refused with -32600 Invalid Request and nothing is run; so is an
/// explicit `"id": null` (JSON-RPC discourages it, and it would be answered with the same
/// `null` id as an unreadable request). An `id` that is not a string or a number is -32600,
/// as is a batch (a JSON array: not supported here). A body that is not JSON is -32700. The
/// refusal carries the request's id once that id is known to be valid, else `null`.
fn parse_request(text: &str) -> Result<RpcRequest<'_>, Refusal<'_>> {
    let null = RawValue::NULL;
    let first = text
        .bytes()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(b'{') {
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
            return Err((null, A2aError::Parse(e.to_string())));
        }
        let what = if first == Some(b'[') {
            "batch requests (a JSON array) are not supported: send one request object per \
             HTTP request"
        } else {
            "the request must be a JSON object"
        };
        return Err((null, A2aError::InvalidRequest(what.into())));
    }
    let env: Envelope<'_> = serde_json::from_str(text).map_err(|e| {
        let err = match e.classify() {
            serde_json::error::Category::Data => A2aError::InvalidRequest(e.to_string()),
            _ => A2aError::Parse(e.to_string()),
        };
        (null, err)
    })?;
    let id = env.id.ok_or_else(|| {
        let why = "missing `id`: a request without an id is a JSON-RPC notification, and A2A \
                   requests need a reply; send a string or number `id`";
        (null, A2aError::InvalidRequest(why.into()))
    })?;
    if let Some(why) = invalid_id(id) {
        return Err((null, A2aError::InvalidRequest(why)));
    }
    let as_string =
        |raw: Option<&RawValue>| raw.and_then(|r| serde_json::from_str::<String>(r.get()).ok());
    if as_string(env.jsonrpc).as_deref() != Some("2.0") {
        let why = "`jsonrpc` must be \"2.0\"";
        return Err((id, A2aError::InvalidRequest(why.into())));
    }
    let Some(method) = as_string(env.method) else {
        let why = match env.method {
            None => "missing string field `method`",
            Some(_) => "`method` must be a string",
        };
        return Err((id, A2aError::InvalidRequest(why.into())));
    };
    let params = match env.params {
        None => Value::Null,
        Some(raw) => match raw.get().as_bytes().first() {
            Some(b'n') => Value::Null,
            Some(b'{') => ops::parse_params(raw.get()).map_err(|e| (id, e))?,
            Some(b'[') => {
                let why = "`params` must be an object: A2A methods take named parameters, not \
                           a list";
                return Err((id, A2aError::InvalidParams(why.into())));
            }
            _ => {
                let why = "`params` must be an object (JSON-RPC 2.0 allows only a structured \
                           value)";
                return Err((id, A2aError::InvalidRequest(why.into())));
            }
        },
    };
    Ok(RpcRequest {
        id,
        method,
        params,
        raw_params: env.params,
    })
}

/// A JSON-RPC response text: `{"jsonrpc":"2.0","id":<id>,"<member>":<body>}`, with the id
/// and the body (already-encoded JSON) written verbatim.
pub(crate) fn envelope(id: &RawValue, member: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + id.get().len() + member.len() + 32);
    out.push_str(r#"{"jsonrpc":"2.0","id":"#);
    out.push_str(id.get());
    out.push_str(",\"");
    out.push_str(member);
    out.push_str("\":");
    out.push_str(body);
    out.push('}');
    out
}

/// Handles one `POST /` request.
pub(crate) async fn handle(state: &AppState, req: Request) -> Response {
    if let Err(e) = check_json_content_type(req.headers()) {
        return transport_error(Binding::JsonRpc, &e);
    }
    let version = requested_version(req.headers());
    let bytes = match read_body(req, state.body_limit()).await {
        Ok(b) => b,
        Err(e) => return transport_error(Binding::JsonRpc, &e),
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            return error(
                RawValue::NULL,
                &A2aError::Parse(format!("the body is not UTF-8: {e}")),
            )
        }
    };
    let RpcRequest {
        id,
        method,
        params,
        raw_params,
    } = match parse_request(text) {
        Ok(r) => r,
        Err((id, e)) => return error(id, &e),
    };
    let method = method.as_str();
    let version = match version {
        Ok(v) => v,
        Err(e) => return error(id, &e),
    };
    let (op, wire) = if let Some(v1) = compat_v03::method_to_v1(method) {
        match Op::from_method(v1) {
            Some(op) => (op, Version::V03),
            None => return error(id, &A2aError::MethodNotFound(crate::error::clip(method))),
        }
    } else if let Some(op) = Op::from_method(method) {
        (op, Version::V1)
    } else {
        return error(id, &A2aError::MethodNotFound(crate::error::clip(method)));
    };
    if wire != version {
        let (needs, sent) = match wire {
            Version::V1 => ("1.0", "0.3 (no A2A-Version header means 0.3)"),
            Version::V03 => ("0.3", "1.0"),
        };
        return error(
            id,
            &A2aError::VersionNotSupported(format!(
                "method `{}` needs A2A-Version {needs}, request is {sent}",
                crate::error::clip(method)
            )),
        );
    }
    let params = if wire == Version::V03 && matches!(op, Op::SendMessage | Op::SendStreamingMessage)
    {
        match compat_v03::send_params_to_v1(&params) {
            Ok(p) => p,
            Err(e) => return error(id, &e),
        }
    } else {
        params
    };
    let outcome = if wire == Version::V03 && op == Op::PushConfig(PushOp::List) {
        crate::compat_v03_push::list_all(state, params)
            .await
            .map(Reply::Json)
    } else {
        ops::run(state, op, params, raw_params.map(RawValue::get)).await
    };
    match outcome {
        Ok(Reply::Encoded(text)) if wire == Version::V1 => result(id, &text),
        Ok(Reply::Encoded(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(v) => result(id, &to_v03(op, &v).to_string()),
            Err(e) => error(id, &A2aError::Internal(format!("re-read result: {e}"))),
        },
        Ok(Reply::Json(v)) => {
            let v = if wire == Version::V03 {
                to_v03(op, &v)
            } else {
                v
            };
            result(id, &v.to_string())
        }
        Ok(Reply::Stream(rx)) => stream(rx, id.to_owned(), wire),
        Err(e) => error(id, &e),
    }
}

/// The SSE answer of a streaming method: every event wrapped in a JSON-RPC response with the
/// request's id (written verbatim, so the frames are built as text); a store failure is one
/// JSON-RPC error frame that ends the stream.
fn stream(rx: EventReceiver, id: Box<RawValue>, wire: Version) -> Response {
    sse_response(rx, move |ev| match ev {
        Ok(ev) => {
            let v = v1_json(ev);
            let v = if wire == Version::V03 {
                compat_v03::stream_response_to_v03(&v)
            } else {
                v
            };
            envelope(&id, "result", &v.to_string())
        }
        Err(e) => envelope(&id, "error", &e.to_jsonrpc_error().to_string()),
    })
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
        Op::PushConfig(push) => crate::compat_v03_push::result_to_v03(push, v),
        Op::GetExtendedAgentCard => {
            let mut card = v.clone();
            crate::card_v03::merge(&mut card);
            card
        }
        _ => v.clone(),
    }
}

/// A JSON-RPC success response around an already-encoded result.
fn result(id: &RawValue, result: &str) -> Response {
    encoded_response(StatusCode::OK, envelope(id, "result", result))
}

/// A JSON-RPC error, answered with HTTP 200 (503 when the agent is not configured).
fn error(id: &RawValue, e: &A2aError) -> Response {
    let status = StatusCode::from_u16(e.jsonrpc_http_status()).unwrap_or(StatusCode::OK);
    encoded_response(
        status,
        envelope(id, "error", &e.to_jsonrpc_error().to_string()),
    )
}
