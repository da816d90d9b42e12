//! A lying registry for tests: a proxy on 127.0.0.1 in front of the real test registry that
//! passes every request through (axum in, reqwest out) but reports `fake_digest` as the
//! `Docker-Content-Digest` of every manifest. Stops with the test's runtime.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Response, Uri};

/// Starts the proxy for the registry at `upstream` (`127.0.0.1:<port>`); returns its
/// `127.0.0.1:<port>`.
pub async fn start(upstream: &str, fake_digest: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let (up, me) = (upstream.to_owned(), host.clone());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (client, up, me, fake) =
                (client.clone(), up.clone(), me.clone(), fake_digest.clone());
            async move {
                let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                let mut request = client.request(method, format!("http://{up}{path}"));
                for (name, value) in &headers {
                    if name != "host" {
                        request = request.header(name, value);
                    }
                }
                let answer = request.body(body).send().await.unwrap();
                let mut response = Response::builder().status(answer.status());
                for (name, value) in answer.headers() {
                    if name == "transfer-encoding" || name == "connection" {
                        continue;
                    }
                    let value = if name == "location" {
                        let text = value.to_str().unwrap().replace(&up, &me);
                        HeaderValue::from_str(&text).unwrap()
                    } else if name == "docker-content-digest" && uri.path().contains("/manifests/")
                    {
                        HeaderValue::from_str(&fake).unwrap()
                    } else {
                        value.clone()
                    };
                    response = response.header(name, value);
                }
                let bytes = answer.bytes().await.unwrap();
                response.body(Body::from(bytes)).unwrap()
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    host
}
