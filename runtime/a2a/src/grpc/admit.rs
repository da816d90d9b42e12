//! Admission of every gRPC call, before its message is read or decoded and before it is
//! routed: a tonic interceptor layered around the whole router (`serve_grpc`), so an
//! unauthenticated caller gets `UNAUTHENTICATED` whatever its path (known method, unknown
//! method, unknown service) and whatever its body (malformed, oversized).
//!
//! It also tells the connection's handshake deadline (`incoming.rs`) that a request arrived.

use std::sync::Arc;

use tonic::{Request, Status};

use super::convert;
use super::incoming::ConnInfo;
use crate::error::A2aError;
use crate::http::{check_auth, requested_version, Version};
use crate::state::AppState;

/// The interceptor of `serve_grpc`: marks the connection as past its handshake, then checks
/// the bearer token (`authorization` metadata, the server's current secret) and the
/// `a2a-version` metadata (absent or blank = 1.0).
///
/// Errors: a missing or wrong bearer: `UNAUTHENTICATED` (reason `UNAUTHENTICATED`); a version
/// other than 1.0: `FAILED_PRECONDITION` (reason `VERSION_NOT_SUPPORTED`; 0.3 has its own
/// proto package, not served here). Both carry one `ErrorInfo`.
pub(super) fn interceptor(
    state: Arc<AppState>,
) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone + Send + Sync + 'static {
    move |req: Request<()>| {
        if let Some(conn) = req.extensions().get::<ConnInfo>() {
            conn.request_arrived();
        }
        admit(&state, &req)?;
        Ok(req)
    }
}

/// The checks of [`interceptor`] on one call's metadata.
fn admit(state: &AppState, req: &Request<()>) -> Result<(), Status> {
    let headers = req.metadata().clone().into_headers();
    check_auth(state.secret().as_deref(), &headers).map_err(|e| convert::status(&e))?;
    let given = headers
        .get("a2a-version")
        .is_some_and(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace));
    if given && requested_version(&headers).map_err(|e| convert::status(&e))? != Version::V1 {
        return Err(convert::status(&A2aError::VersionNotSupported(
            "0.3 over gRPC (send a2a-version: 1.0)".into(),
        )));
    }
    Ok(())
}
