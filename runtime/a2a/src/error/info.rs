//! The `google.rpc.ErrorInfo` every error carries: its `@type` and `domain`, and the `reason`
//! each JSON-RPC code maps to.

use super::codes;

/// The `@type` URL of a `google.rpc.ErrorInfo` detail.
pub(crate) const ERROR_INFO_TYPE: &str = "type.googleapis.com/google.rpc.ErrorInfo";
/// The `domain` carried by every A2A `ErrorInfo`.
pub(crate) const ERROR_DOMAIN: &str = "a2a-protocol.org";

/// The `ErrorInfo.reason` of [`A2aError::NotConfigured`](super::A2aError::NotConfigured): the
/// one error whose reason is more specific than its code's (-32603 is otherwise
/// `INTERNAL_ERROR`), the same on both bindings.
pub(crate) const AGENT_NOT_CONFIGURED: &str = "AGENT_NOT_CONFIGURED";

/// The `ErrorInfo.reason` of [`A2aError::StoreUnavailable`](super::A2aError::StoreUnavailable):
/// the task store could not store or read the task (a full disk, a read-only file), so the
/// server claims nothing about it; `metadata.detail` says what failed. Retry later.
pub(crate) const TASK_STORE_UNAVAILABLE: &str = "TASK_STORE_UNAVAILABLE";

/// The `google.rpc.ErrorInfo.reason` for a JSON-RPC error `code` (UPPER_SNAKE_CASE, the
/// names the A2A SDKs use). This is the only place a reason is chosen:
/// [`A2aError::reason`](super::A2aError::reason) is this function of
/// [`A2aError::code`](super::A2aError::code), so a reason can never disagree with its code.
/// An unknown code answers `INTERNAL_ERROR`.
pub(crate) fn reason_for_code(code: i64) -> &'static str {
    match code {
        codes::PARSE_ERROR => "PARSE_ERROR",
        codes::INVALID_REQUEST => "INVALID_REQUEST",
        codes::METHOD_NOT_FOUND => "METHOD_NOT_FOUND",
        codes::INVALID_PARAMS => "INVALID_PARAMS",
        codes::UNAUTHENTICATED => "UNAUTHENTICATED",
        codes::TASK_NOT_FOUND => "TASK_NOT_FOUND",
        codes::TASK_NOT_CANCELABLE => "TASK_NOT_CANCELABLE",
        codes::PUSH_NOTIFICATION_NOT_SUPPORTED => "PUSH_NOTIFICATION_NOT_SUPPORTED",
        codes::UNSUPPORTED_OPERATION => "UNSUPPORTED_OPERATION",
        codes::CONTENT_TYPE_NOT_SUPPORTED => "CONTENT_TYPE_NOT_SUPPORTED",
        codes::INVALID_AGENT_RESPONSE => "INVALID_AGENT_RESPONSE",
        codes::EXTENDED_AGENT_CARD_NOT_CONFIGURED => "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
        codes::EXTENSION_SUPPORT_REQUIRED => "EXTENSION_SUPPORT_REQUIRED",
        codes::VERSION_NOT_SUPPORTED => "VERSION_NOT_SUPPORTED",
        _ => "INTERNAL_ERROR",
    }
}
