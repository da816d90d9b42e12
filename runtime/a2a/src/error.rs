//! A2A protocol errors: one enum for every error the server answers, with its JSON-RPC code,
//! `google.rpc.ErrorInfo` reason, gRPC status name and HTTP status, plus the two wire shapes
//! (JSON-RPC `error` object and the REST `{"error":{code,status,message,details}}` body).

use serde_json::{json, Value};

/// The `@type` URL of a `google.rpc.ErrorInfo` detail.
pub const ERROR_INFO_TYPE: &str = "type.googleapis.com/google.rpc.ErrorInfo";
/// The `domain` carried by every A2A `ErrorInfo`.
pub const ERROR_DOMAIN: &str = "a2a-protocol.org";

/// An error answered to an A2A client. The message is sent to the client as is, so it must
/// never contain secrets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum A2aError {
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
    /// Missing or wrong bearer credentials (HTTP 401).
    #[error("Unauthorized: {0}")]
    Unauthorized(String),
}

impl A2aError {
    /// The JSON-RPC error code.
    pub fn code(&self) -> i64 {
        match self {
            A2aError::Parse(_) => -32700,
            A2aError::InvalidRequest(_) | A2aError::PayloadTooLarge(_) => -32600,
            A2aError::MethodNotFound(_) => -32601,
            A2aError::InvalidParams(_) => -32602,
            A2aError::Internal(_) | A2aError::Unauthorized(_) => -32603,
            A2aError::TaskNotFound(_) => -32001,
            A2aError::TaskNotCancelable(_) => -32002,
            A2aError::PushNotificationNotSupported => -32003,
            A2aError::UnsupportedOperation(_) => -32004,
            A2aError::ContentTypeNotSupported(_) => -32005,
            A2aError::ExtendedAgentCardNotConfigured => -32007,
            A2aError::VersionNotSupported(_) => -32009,
        }
    }

    /// The `ErrorInfo.reason` (UPPER_SNAKE_CASE, as the Python reference uses).
    pub fn reason(&self) -> &'static str {
        match self {
            A2aError::Parse(_) | A2aError::InvalidRequest(_) => "INVALID_REQUEST",
            A2aError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            A2aError::MethodNotFound(_) => "METHOD_NOT_FOUND",
            A2aError::InvalidParams(_) => "INVALID_PARAMS",
            A2aError::Internal(_) => "INTERNAL_ERROR",
            A2aError::Unauthorized(_) => "UNAUTHENTICATED",
            A2aError::TaskNotFound(_) => "TASK_NOT_FOUND",
            A2aError::TaskNotCancelable(_) => "TASK_NOT_CANCELABLE",
            A2aError::PushNotificationNotSupported => "PUSH_NOTIFICATION_NOT_SUPPORTED",
            A2aError::UnsupportedOperation(_) => "UNSUPPORTED_OPERATION",
            A2aError::ContentTypeNotSupported(_) => "CONTENT_TYPE_NOT_SUPPORTED",
            A2aError::ExtendedAgentCardNotConfigured => "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
            A2aError::VersionNotSupported(_) => "VERSION_NOT_SUPPORTED",
        }
    }

    /// The gRPC status name used in REST error bodies.
    pub fn grpc_status(&self) -> &'static str {
        match self {
            A2aError::Parse(_)
            | A2aError::InvalidRequest(_)
            | A2aError::InvalidParams(_)
            | A2aError::ContentTypeNotSupported(_) => "INVALID_ARGUMENT",
            A2aError::MethodNotFound(_) | A2aError::TaskNotFound(_) => "NOT_FOUND",
            A2aError::Internal(_) => "INTERNAL",
            A2aError::PayloadTooLarge(_) => "RESOURCE_EXHAUSTED",
            A2aError::Unauthorized(_) => "UNAUTHENTICATED",
            A2aError::TaskNotCancelable(_)
            | A2aError::PushNotificationNotSupported
            | A2aError::UnsupportedOperation(_)
            | A2aError::ExtendedAgentCardNotConfigured
            | A2aError::VersionNotSupported(_) => "FAILED_PRECONDITION",
        }
    }

    /// The HTTP status for the REST binding (JSON-RPC answers 200 except for transport-level
    /// failures: 401, 413, 415).
    pub fn http_status(&self) -> u16 {
        match self {
            A2aError::TaskNotFound(_) | A2aError::MethodNotFound(_) => 404,
            A2aError::Internal(_) => 500,
            A2aError::PayloadTooLarge(_) => 413,
            A2aError::Unauthorized(_) => 401,
            A2aError::ContentTypeNotSupported(_) => 415,
            _ => 400,
        }
    }

    /// The `details` list: one `google.rpc.ErrorInfo`.
    pub fn details(&self) -> Value {
        json!([{
            "@type": ERROR_INFO_TYPE,
            "reason": self.reason(),
            "domain": ERROR_DOMAIN,
            "metadata": {},
        }])
    }

    /// The JSON-RPC `error` object (`code`, `message`, `data` = ErrorInfo details).
    pub fn to_jsonrpc_error(&self) -> Value {
        json!({"code": self.code(), "message": self.to_string(), "data": self.details()})
    }

    /// A whole JSON-RPC error response with the given request id.
    pub fn to_jsonrpc_response(&self, id: &Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "error": self.to_jsonrpc_error()})
    }

    /// The REST error body `{"error":{code,status,message,details}}`.
    pub fn to_rest_body(&self) -> Value {
        json!({"error": {
            "code": self.http_status(),
            "status": self.grpc_status(),
            "message": self.to_string(),
            "details": self.details(),
        }})
    }
}

/// Result alias for operations that answer an [`A2aError`].
pub type A2aResult<T> = Result<T, A2aError>;

#[cfg(test)]
mod tests {
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

    #[test]
    fn rest_body_has_status_and_details() {
        let v = A2aError::TaskNotFound("t1".into()).to_rest_body();
        assert_eq!(v["error"]["code"], 404);
        assert_eq!(v["error"]["status"], "NOT_FOUND");
        assert_eq!(v["error"]["details"][0]["@type"], ERROR_INFO_TYPE);
    }
}
