//! JSON-RPC error codes: the five of JSON-RPC 2.0, the A2A 1.0 ones, and the one
//! implementation-defined code this server adds ([`UNAUTHENTICATED`]).

/// -32700: the body is not valid JSON.
pub(crate) const PARSE_ERROR: i64 = -32700;
/// -32600: the JSON is not a valid JSON-RPC request object.
pub(crate) const INVALID_REQUEST: i64 = -32600;
/// -32601: the method does not exist.
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
/// -32602: invalid method parameters.
pub(crate) const INVALID_PARAMS: i64 = -32602;
/// -32603: internal error.
pub(crate) const INTERNAL_ERROR: i64 = -32603;
/// -32000 (JSON-RPC's implementation-defined server-error range, unused by A2A): missing
/// or wrong credentials. It is always sent with HTTP 401, which is what clients act on.
pub(crate) const UNAUTHENTICATED: i64 = -32000;
/// -32001: A2A TaskNotFoundError.
pub(crate) const TASK_NOT_FOUND: i64 = -32001;
/// -32002: A2A TaskNotCancelableError.
pub(crate) const TASK_NOT_CANCELABLE: i64 = -32002;
/// -32003: A2A PushNotificationNotSupportedError.
pub(crate) const PUSH_NOTIFICATION_NOT_SUPPORTED: i64 = -32003;
/// -32004: A2A UnsupportedOperationError.
pub(crate) const UNSUPPORTED_OPERATION: i64 = -32004;
/// -32005: A2A ContentTypeNotSupportedError.
pub(crate) const CONTENT_TYPE_NOT_SUPPORTED: i64 = -32005;
/// -32006: A2A InvalidAgentResponseError.
pub(crate) const INVALID_AGENT_RESPONSE: i64 = -32006;
/// -32007: A2A ExtendedAgentCardNotConfiguredError.
pub(crate) const EXTENDED_AGENT_CARD_NOT_CONFIGURED: i64 = -32007;
/// -32008: A2A ExtensionSupportRequiredError.
pub(crate) const EXTENSION_SUPPORT_REQUIRED: i64 = -32008;
/// -32009: A2A VersionNotSupportedError.
pub(crate) const VERSION_NOT_SUPPORTED: i64 = -32009;
