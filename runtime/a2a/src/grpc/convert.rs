//! Conversions between the gRPC binding's prost messages and the 1.0 JSON the operations
//! (`ops.rs`) take and answer, and from an [`A2aError`] to a gRPC [`Status`].
//!
//! Messages convert through ProtoJSON (the protobuf JSON mapping, `pbjson` serde impls
//! generated beside the prost types): it is exactly the JSON the JSON-RPC and HTTP+JSON
//! bindings carry, so each gRPC call runs the same validation and semantics as theirs.
//! Errors follow A2A 1.0 §10.6 and §5.4: the status code from the error mapping table, the
//! error text as `message`, and one `google.rpc.ErrorInfo` (`reason`, domain
//! `a2a-protocol.org`, `metadata`) in the status details.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::error::{A2aError, ERROR_DOMAIN};

/// A request message as 1.0 JSON params (lowerCamel names, enum names, RFC 3339 times;
/// fields left at their default are absent).
///
/// Errors: none in practice (every generated message serializes); a failure is
/// [`A2aError::Internal`].
pub(crate) fn to_json<T: Serialize>(msg: &T) -> Result<Value, A2aError> {
    serde_json::to_value(msg).map_err(|e| A2aError::Internal(format!("encode request: {e}")))
}

/// A 1.0 JSON result as the prost message `T`. Members the proto does not declare (such as
/// the 0.3 discovery fields of the card) are ignored.
///
/// Errors: JSON the message cannot hold is [`A2aError::Internal`] (the operations answer
/// 1.0 JSON, so this is a server bug, never the client's).
pub(crate) fn from_json<T: DeserializeOwned>(v: Value) -> Result<T, A2aError> {
    serde_json::from_value(v).map_err(|e| A2aError::Internal(format!("encode reply: {e}")))
}

/// Like [`from_json`], from JSON text.
pub(crate) fn from_json_text<T: DeserializeOwned>(text: &str) -> Result<T, A2aError> {
    serde_json::from_str(text).map_err(|e| A2aError::Internal(format!("encode reply: {e}")))
}

/// The gRPC code of an error: A2A 1.0 §5.4 (task not found → `NOT_FOUND`; not cancelable,
/// push not supported, unsupported operation, no extended card, version not supported →
/// `FAILED_PRECONDITION`; content type → `INVALID_ARGUMENT`), and for the rest the code the
/// REST binding names in its error body (`A2aError::grpc_status`): invalid params →
/// `INVALID_ARGUMENT`, missing or wrong bearer → `UNAUTHENTICATED`, not configured or a
/// failed task store → `UNAVAILABLE`, a server fault → `INTERNAL`.
pub(crate) fn code(e: &A2aError) -> Code {
    match e.grpc_status() {
        "INVALID_ARGUMENT" => Code::InvalidArgument,
        "NOT_FOUND" => Code::NotFound,
        "UNAVAILABLE" => Code::Unavailable,
        "RESOURCE_EXHAUSTED" => Code::ResourceExhausted,
        "DEADLINE_EXCEEDED" => Code::DeadlineExceeded,
        "UNAUTHENTICATED" => Code::Unauthenticated,
        "FAILED_PRECONDITION" => Code::FailedPrecondition,
        _ => Code::Internal,
    }
}

/// The gRPC status of an error: [`code`], the error's message, and one `ErrorInfo` detail
/// with the same `reason` and `metadata` as the JSON bindings' `error.data`.
pub(crate) fn status(e: &A2aError) -> Status {
    let details = e.details();
    let metadata: HashMap<String, String> = details[0]["metadata"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default();
    Status::with_error_details(
        code(e),
        e.message(),
        ErrorDetails::with_error_info(e.reason(), ERROR_DOMAIN, metadata),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::pb;

    #[test]
    fn error_codes_follow_the_spec_table() {
        assert_eq!(code(&A2aError::TaskNotFound("t".into())), Code::NotFound);
        assert_eq!(
            code(&A2aError::TaskNotCancelable("t".into())),
            Code::FailedPrecondition
        );
        assert_eq!(
            code(&A2aError::PushNotificationNotSupported),
            Code::FailedPrecondition
        );
        assert_eq!(
            code(&A2aError::ContentTypeNotSupported("x".into())),
            Code::InvalidArgument
        );
        assert_eq!(
            code(&A2aError::InvalidParams("x".into())),
            Code::InvalidArgument
        );
        assert_eq!(
            code(&A2aError::Unauthorized("x".into())),
            Code::Unauthenticated
        );
        assert_eq!(
            code(&A2aError::NotConfigured("x".into())),
            Code::Unavailable
        );
    }

    #[test]
    fn status_carries_error_info() {
        let st = status(&A2aError::NotConfigured("set model".into()));
        let info = st.get_details_error_info().expect("ErrorInfo detail");
        assert_eq!(info.reason, "AGENT_NOT_CONFIGURED");
        assert_eq!(info.domain, "a2a-protocol.org");
        assert_eq!(
            info.metadata.get("detail").map(String::as_str),
            Some("set model")
        );
    }

    #[test]
    fn task_json_converts_both_ways() {
        let v = serde_json::json!({
            "id": "t1", "contextId": "c1",
            "status": {"state": "TASK_STATE_COMPLETED", "timestamp": "2026-01-02T03:04:05.678Z",
                       "message": {"messageId": "m", "role": "ROLE_AGENT",
                                   "parts": [{"text": "hi"}, {"data": {"k": [1, "x"]}}]}},
            "history": [{"messageId": "u", "role": "ROLE_USER", "parts": [{"raw": "aGk="}]}]
        });
        let t: pb::Task = from_json(v).expect("task");
        assert_eq!(t.context_id, "c1");
        assert_eq!(
            t.status.as_ref().map(|s| s.state),
            Some(pb::TaskState::Completed as i32)
        );
        assert_eq!(
            t.history[0].parts[0].content,
            Some(pb::part::Content::Raw(b"hi".to_vec()))
        );
        let back = to_json(&t).expect("json");
        assert_eq!(back["status"]["message"]["parts"][1]["data"]["k"][1], "x");
        assert_eq!(back["history"][0]["role"], "ROLE_USER");
    }
}
