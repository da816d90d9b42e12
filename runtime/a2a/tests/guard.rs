//! `A2aServer::guard`: routes of another protocol (the runtime's `/mcp`) behind the A2A inbound
//! bearer check, with the server's current secret: 401 with `WWW-Authenticate: Bearer` and a
//! JSON-RPC error body without or with a wrong bearer, through with the right one, and a
//! secret replaced at run time applies at once.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::post;
use axum::Router;
use molecule_a2a::{A2aServer, CardHandle};
use serde_json::Value;
use tower_service::Service as _;

/// POSTs to `/other` with `auth` (an `Authorization` value) and returns status, the
/// `WWW-Authenticate` header and the body.
async fn post_other(router: &Router, auth: Option<&str>) -> (StatusCode, Option<String>, String) {
    let mut request = Request::post("/other");
    if let Some(auth) = auth {
        request = request.header(header::AUTHORIZATION, auth);
    }
    let response = router
        .clone()
        .call(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, challenge, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn guarded_routes_need_the_current_bearer() {
    let server = A2aServer::not_configured(
        CardHandle::new(common::card("http://127.0.0.1:1", false)),
        "test",
    )
    .with_bearer_secret(Some("s3cret-value".into()));
    let router = server.guard(Router::new().route("/other", post(|| async { "inner" })));

    for auth in [None, Some("Bearer wrong"), Some("Basic s3cret-value")] {
        let (status, challenge, body) = post_other(&router, auth).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(challenge.as_deref(), Some("Bearer"), "{auth:?}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["jsonrpc"], "2.0");
        assert_eq!(body["error"]["code"], -32000);
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Unauthorized"));
    }
    let (status, _, body) = post_other(&router, Some("bearer s3cret-value")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "inner"));

    server.set_bearer_secret(Some("rotated-value".into()));
    let (status, ..) = post_other(&router, Some("Bearer s3cret-value")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.set_bearer_secret(None);
    let (status, ..) = post_other(&router, None).await;
    assert_eq!(status, StatusCode::OK);
}
