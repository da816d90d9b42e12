//! A2A protocol errors: one enum for every error the server answers, with its JSON-RPC code,
//! `google.rpc.ErrorInfo` reason, gRPC status name and HTTP status, plus the two wire shapes
//! (JSON-RPC `error` object and the REST `{"error":{code,status,message,details}}` body).

use serde_json::{json, Value};

pub(crate) mod codes;
mod info;
mod text;

pub(crate) use info::{
    reason_for_code, AGENT_NOT_CONFIGURED, ERROR_DOMAIN, ERROR_INFO_TYPE, TASK_STORE_UNAVAILABLE,
};
pub(crate) use text::{client_detail, clip, log_text};

/// An error answered to an A2A client. The message is sent to the client as is, so it must
/// never contain secrets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum A2aError {
    /// -32700: the body is not valid JSON.
    #[error("Parse error: {0}")]
    Parse(String),
    /// -32600: the JSON is not a valid JSON-RPC 2.0 request.
    #[error("Invalid request: {0}")]
    InvalidRequest(String),
    /// -32601: the JSON-RPC method is not known.
    #[error("Method not found: {0}")]
    MethodNotFound(String),
    /// -32602: the params (or REST body/query) are invalid; the message names the field.
    #[error("Invalid params: {0}")]
    InvalidParams(String),
    /// -32603: something failed inside the server.
    #[error("Internal error: {0}")]
    Internal(String),
    /// -32001: no task has this id.
    #[error("Task not found: {0}")]
    TaskNotFound(String),
    /// -32002: the task is already terminal and cannot be canceled.
    #[error("Task cannot be canceled: {0}")]
    TaskNotCancelable(String),
    /// -32003: push notifications are not supported by this agent.
    #[error("Push notifications are not supported")]
    PushNotificationNotSupported,
    /// -32004: the operation is not supported (capability missing, terminal task, ...).
    #[error("Unsupported operation: {0}")]
    UnsupportedOperation(String),
    /// -32005: the request's Content-Type (or a requested media type) is not supported.
    #[error("Content type not supported: {0}")]
    ContentTypeNotSupported(String),
    /// -32007: no extended agent card is configured.
    #[error("Extended agent card is not configured")]
    ExtendedAgentCardNotConfigured,
    /// -32009: the `A2A-Version` the client asked for is not served here.
    #[error("Protocol version not supported: {0}")]
    VersionNotSupported(String),
    /// The request body exceeds the configured limit (HTTP 413; JSON-RPC -32600).
    #[error("Request body too large: limit is {0} bytes")]
    PayloadTooLarge(usize),
    /// Missing or wrong bearer credentials (HTTP 401; JSON-RPC [`codes::UNAUTHENTICATED`]).
    #[error("Unauthorized: {0}")]
    Unauthorized(String),
    /// The agent failed setup, so no call can run (HTTP 503; JSON-RPC -32603 with the reason
    /// [`AGENT_NOT_CONFIGURED`]). The text is the client-safe detail (see [`client_detail`]),
    /// sent in the ErrorInfo's `metadata.detail`.
    #[error("Internal error: agent not configured")]
    NotConfigured(String),
    /// The task store could not store (or read) the task, so nothing is claimed about it
    /// (HTTP 503; JSON-RPC -32603 with the reason [`TASK_STORE_UNAVAILABLE`]). The text is
    /// the client-safe detail (see [`client_detail`]), also sent in `metadata.detail`.
    #[error("Internal error: the task store is unavailable: {0}")]
    StoreUnavailable(String),
    /// The request body did not arrive within the server's body timeout (HTTP 408; JSON-RPC
    /// -32600); the connection is closed.
    #[error("Request timeout: {0}")]
    RequestTimeout(String),
}

impl A2aError {
    /// A task store failure as answered to a client: logged in full, answered with the
    /// client-safe detail (file names, not host paths).
    pub(crate) fn store(e: &crate::store::StoreError) -> A2aError {
        let full = e.to_string();
        tracing::warn!(error = %full, "a2a: task store failure answered to the client");
        A2aError::StoreUnavailable(client_detail(&full))
    }
}

impl A2aError {
    /// The JSON-RPC error code. A body over the size limit is an invalid request (-32600,
    /// sent with HTTP 413); missing or wrong credentials are [`codes::UNAUTHENTICATED`]
    /// (sent with HTTP 401).
    pub(crate) fn code(&self) -> i64 {
        match self {
            A2aError::Parse(_) => codes::PARSE_ERROR,
            A2aError::InvalidRequest(_)
            | A2aError::PayloadTooLarge(_)
            | A2aError::RequestTimeout(_) => codes::INVALID_REQUEST,
            A2aError::MethodNotFound(_) => codes::METHOD_NOT_FOUND,
            A2aError::InvalidParams(_) => codes::INVALID_PARAMS,
            A2aError::Internal(_) => codes::INTERNAL_ERROR,
            A2aError::Unauthorized(_) => codes::UNAUTHENTICATED,
            A2aError::TaskNotFound(_) => codes::TASK_NOT_FOUND,
            A2aError::TaskNotCancelable(_) => codes::TASK_NOT_CANCELABLE,
            A2aError::PushNotificationNotSupported => codes::PUSH_NOTIFICATION_NOT_SUPPORTED,
            A2aError::UnsupportedOperation(_) => codes::UNSUPPORTED_OPERATION,
            A2aError::ContentTypeNotSupported(_) => codes::CONTENT_TYPE_NOT_SUPPORTED,
            A2aError::ExtendedAgentCardNotConfigured => codes::EXTENDED_AGENT_CARD_NOT_CONFIGURED,
            A2aError::VersionNotSupported(_) => codes::VERSION_NOT_SUPPORTED,
            A2aError::NotConfigured(_) | A2aError::StoreUnavailable(_) => codes::INTERNAL_ERROR,
        }
    }

    /// The `ErrorInfo.reason`: [`reason_for_code`] of [`code`](Self::code), except that
    /// [`A2aError::NotConfigured`] says [`AGENT_NOT_CONFIGURED`] and
    /// [`A2aError::StoreUnavailable`] [`TASK_STORE_UNAVAILABLE`] (on both bindings).
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            A2aError::NotConfigured(_) => AGENT_NOT_CONFIGURED,
            A2aError::StoreUnavailable(_) => TASK_STORE_UNAVAILABLE,
            _ => reason_for_code(self.code()),
        }
    }

    /// The message as sent: control characters escaped and at most 1024 characters (each
    /// piece of client text in it is already [`clip`]ped; this is the backstop).
    pub(crate) fn message(&self) -> String {
        text::clip_message(&self.to_string())
    }

    /// The gRPC status name used in REST error bodies.
    pub(crate) fn grpc_status(&self) -> &'static str {
        match self {
            A2aError::Parse(_)
            | A2aError::InvalidRequest(_)
            | A2aError::InvalidParams(_)
            | A2aError::ContentTypeNotSupported(_) => "INVALID_ARGUMENT",
            A2aError::MethodNotFound(_) | A2aError::TaskNotFound(_) => "NOT_FOUND",
            A2aError::Internal(_) => "INTERNAL",
            A2aError::NotConfigured(_) | A2aError::StoreUnavailable(_) => "UNAVAILABLE",
            A2aError::PayloadTooLarge(_) => "RESOURCE_EXHAUSTED",
            A2aError::RequestTimeout(_) => "DEADLINE_EXCEEDED",
            A2aError::Unauthorized(_) => "UNAUTHENTICATED",
            A2aError::TaskNotCancelable(_)
            | A2aError::PushNotificationNotSupported
            | A2aError::UnsupportedOperation(_)
            | A2aError::ExtendedAgentCardNotConfigured
            | A2aError::VersionNotSupported(_) => "FAILED_PRECONDITION",
        }
    }

    /// The HTTP status for the REST binding (JSON-RPC answers 200 except for transport-level
    /// failures, 401, 413, 415, and "not configured", 503: see [`jsonrpc_http_status`]).
    ///
    /// [`jsonrpc_http_status`]: Self::jsonrpc_http_status
    pub(crate) fn http_status(&self) -> u16 {
        match self {
            A2aError::TaskNotFound(_) | A2aError::MethodNotFound(_) => 404,
            A2aError::Internal(_) => 500,
            A2aError::NotConfigured(_) | A2aError::StoreUnavailable(_) => 503,
            A2aError::PayloadTooLarge(_) => 413,
            A2aError::RequestTimeout(_) => 408,
            A2aError::Unauthorized(_) => 401,
            A2aError::ContentTypeNotSupported(_) => 415,
            _ => 400,
        }
    }

    /// The HTTP status of a JSON-RPC answer carrying this error once the request was read:
    /// 200, except 503 for [`A2aError::NotConfigured`] and [`A2aError::StoreUnavailable`].
    pub(crate) fn jsonrpc_http_status(&self) -> u16 {
        match self {
            A2aError::NotConfigured(_) | A2aError::StoreUnavailable(_) => 503,
            _ => 200,
        }
    }

    /// The `details` list: one `google.rpc.ErrorInfo` (`metadata.detail` says why the agent
    /// is not configured, or why the task store failed; other errors have no metadata).
    pub(crate) fn details(&self) -> Value {
        let metadata = match self {
            A2aError::NotConfigured(detail) | A2aError::StoreUnavailable(detail) => {
                json!({ "detail": detail })
            }
            _ => json!({}),
        };
        json!([{
            "@type": ERROR_INFO_TYPE,
            "reason": self.reason(),
            "domain": ERROR_DOMAIN,
            "metadata": metadata,
        }])
    }

    /// The JSON-RPC `error` object (`code`, `message`, `data` = ErrorInfo details).
    pub(crate) fn to_jsonrpc_error(&self) -> Value {
        json!({"code": self.code(), "message": self.message(), "data": self.details()})
    }

    /// A whole JSON-RPC error response with the given request id.
    pub(crate) fn to_jsonrpc_response(&self, id: &Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "error": self.to_jsonrpc_error()})
    }

    /// The REST error body `{"error":{code,status,message,details}}`.
    pub(crate) fn to_rest_body(&self) -> Value {
        json!({"error": {
            "code": self.http_status(),
            "status": self.grpc_status(),
            "message": self.message(),
            "details": self.details(),
        }})
    }
}

/// Result alias for operations that answer an [`A2aError`].
pub(crate) type A2aResult<T> = Result<T, A2aError>;

#[cfg(test)]
mod tests {
    use super::text::ECHO_LIMIT;
    use super::*;

    #[test]
    fn jsonrpc_error_carries_error_info() {
        let e = A2aError::TaskNotFound("t1".into());
        let v = e.to_jsonrpc_response(&json!(7));
        assert_eq!(v["error"]["code"], -32001);
        assert_eq!(v["error"]["data"][0]["reason"], "TASK_NOT_FOUND");
        assert_eq!(v["error"]["data"][0]["domain"], ERROR_DOMAIN);
        assert_eq!(v["id"], 7);
    }

    /// One error of every kind. The `match` has no wildcard, so a new variant does not
    /// compile until it is listed here (and so walked by the tests below).
    fn every_kind() -> Vec<A2aError> {
        let all = vec![
            A2aError::Parse("x".into()),
            A2aError::InvalidRequest("x".into()),
            A2aError::MethodNotFound("x".into()),
            A2aError::InvalidParams("x".into()),
            A2aError::Internal("x".into()),
            A2aError::TaskNotFound("x".into()),
            A2aError::TaskNotCancelable("x".into()),
            A2aError::PushNotificationNotSupported,
            A2aError::UnsupportedOperation("x".into()),
            A2aError::ContentTypeNotSupported("x".into()),
            A2aError::ExtendedAgentCardNotConfigured,
            A2aError::VersionNotSupported("x".into()),
            A2aError::PayloadTooLarge(1),
            A2aError::Unauthorized("x".into()),
            A2aError::NotConfigured("x".into()),
            A2aError::StoreUnavailable("x".into()),
            A2aError::RequestTimeout("x".into()),
        ];
        for e in &all {
            match e {
                A2aError::Parse(_)
                | A2aError::InvalidRequest(_)
                | A2aError::MethodNotFound(_)
                | A2aError::InvalidParams(_)
                | A2aError::Internal(_)
                | A2aError::TaskNotFound(_)
                | A2aError::TaskNotCancelable(_)
                | A2aError::PushNotificationNotSupported
                | A2aError::UnsupportedOperation(_)
                | A2aError::ContentTypeNotSupported(_)
                | A2aError::ExtendedAgentCardNotConfigured
                | A2aError::VersionNotSupported(_)
                | A2aError::PayloadTooLarge(_)
                | A2aError::Unauthorized(_)
                | A2aError::NotConfigured(_)
                | A2aError::StoreUnavailable(_)
                | A2aError::RequestTimeout(_) => {}
            }
        }
        all
    }

    /// The reason each code must carry, written out independently of `reason_for_code`.
    fn expected_reason(code: i64) -> &'static str {
        match code {
            -32700 => "PARSE_ERROR",
            -32600 => "INVALID_REQUEST",
            -32601 => "METHOD_NOT_FOUND",
            -32602 => "INVALID_PARAMS",
            -32603 => "INTERNAL_ERROR",
            -32000 => "UNAUTHENTICATED",
            -32001 => "TASK_NOT_FOUND",
            -32002 => "TASK_NOT_CANCELABLE",
            -32003 => "PUSH_NOTIFICATION_NOT_SUPPORTED",
            -32004 => "UNSUPPORTED_OPERATION",
            -32005 => "CONTENT_TYPE_NOT_SUPPORTED",
            -32006 => "INVALID_AGENT_RESPONSE",
            -32007 => "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
            -32008 => "EXTENSION_SUPPORT_REQUIRED",
            -32009 => "VERSION_NOT_SUPPORTED",
            other => panic!("code {other} has no expected reason"),
        }
    }

    #[test]
    fn every_error_reason_matches_its_code() {
        for e in every_kind() {
            let code = e.code();
            let expected = match e {
                // The refinements, the same reason the REST binding gives.
                A2aError::NotConfigured(_) => "AGENT_NOT_CONFIGURED",
                A2aError::StoreUnavailable(_) => "TASK_STORE_UNAVAILABLE",
                _ => expected_reason(code),
            };
            assert_eq!(e.reason(), expected, "{e:?} (code {code})");
            // Both wire shapes carry that same reason.
            let rpc = e.to_jsonrpc_response(&json!(1));
            assert_eq!(rpc["error"]["code"], code, "{e:?}");
            assert_eq!(rpc["error"]["data"][0]["reason"], e.reason(), "{e:?}");
            assert_eq!(
                e.to_rest_body()["error"]["details"][0]["reason"],
                e.reason(),
                "{e:?}"
            );
        }
    }

    #[test]
    fn reason_table_agrees_with_the_official_a2a_crate() {
        // Every JSON-RPC and A2A code: the reason the `a2a-lf` crate (a2aproject/a2a-rs)
        // gives it. -32000 is ours (the crate maps codes it does not know to INTERNAL_ERROR).
        for code in (-32009..=-32001).chain(-32603..=-32600).chain([-32700]) {
            let ours = reason_for_code(code);
            assert_eq!(ours, expected_reason(code), "code {code}");
            let theirs = a2a::error_reason(i32::try_from(code).expect("code fits i32"));
            assert_eq!(ours, theirs, "code {code}");
        }
        assert_eq!(reason_for_code(codes::UNAUTHENTICATED), "UNAUTHENTICATED");
        assert_eq!(reason_for_code(-1), "INTERNAL_ERROR");
    }

    #[test]
    fn parse_error_is_not_invalid_request() {
        let e = A2aError::Parse("eof".into());
        assert_eq!(e.code(), -32700);
        assert_eq!(e.reason(), "PARSE_ERROR");
    }

    #[test]
    fn every_error_data_is_one_error_info() {
        for e in every_kind() {
            let rpc = e.to_jsonrpc_error();
            let data = rpc["data"].as_array().expect("data is a list");
            assert_eq!(data.len(), 1, "{e:?}");
            let info = data[0].as_object().expect("ErrorInfo object");
            let mut keys: Vec<&str> = info.keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["@type", "domain", "metadata", "reason"], "{e:?}");
            assert_eq!(info["@type"], ERROR_INFO_TYPE, "{e:?}");
            assert_eq!(info["domain"], ERROR_DOMAIN, "{e:?}");
            assert!(info["metadata"].is_object(), "{e:?}");
            assert_eq!(rpc["data"], e.to_rest_body()["error"]["details"], "{e:?}");
        }
    }

    #[test]
    fn not_configured_is_503_with_agent_not_configured_on_both_bindings() {
        let e = A2aError::NotConfigured("adapter setup failed: no model".into());
        assert_eq!(
            e.to_jsonrpc_error(),
            json!({"code": -32603, "message": "Internal error: agent not configured",
                   "data": [{"@type": ERROR_INFO_TYPE, "reason": "AGENT_NOT_CONFIGURED",
                             "domain": ERROR_DOMAIN,
                             "metadata": {"detail": "adapter setup failed: no model"}}]})
        );
        assert_eq!(e.jsonrpc_http_status(), 503);
        assert_eq!(e.http_status(), 503);
        let rest = e.to_rest_body();
        assert_eq!(rest["error"]["status"], "UNAVAILABLE");
        assert_eq!(rest["error"]["details"], e.to_jsonrpc_error()["data"]);
        assert_eq!(
            A2aError::TaskNotFound("x".into()).jsonrpc_http_status(),
            200
        );
    }

    #[test]
    fn echoed_client_text_is_clipped_and_escaped() {
        assert_eq!(clip("short"), "short");
        let c = clip(&"é".repeat(1000));
        assert_eq!(c.chars().count(), ECHO_LIMIT + 1);
        assert!(c.ends_with('…'));
        assert_eq!(clip("a\nb\x1b"), "a\\nb\\u{1b}");
        // The backstop: a whole message is at most 1024 characters, control characters escaped.
        let e = A2aError::Internal(format!("{}\n", "y".repeat(5000)));
        let m = e.to_jsonrpc_error()["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(m.chars().count(), 1025);
        assert!(!m.contains('\n'));
    }

    #[test]
    fn rest_body_has_status_and_details() {
        let v = A2aError::TaskNotFound("t1".into()).to_rest_body();
        assert_eq!(v["error"]["code"], 404);
        assert_eq!(v["error"]["status"], "NOT_FOUND");
        assert_eq!(v["error"]["details"][0]["@type"], ERROR_INFO_TYPE);
    }
}
