//! The `/mcp` Streamable HTTP transport's rules, over a real axum server on 127.0.0.1 and a
//! registry with the real `json-query` skill (built from source), asked with reqwest: a plain
//! `tools/call` (the direct path of `runtime/src/mcp/direct.rs`) answers the same JSON-RPC
//! result as `rmcp`'s service (forced by an `Origin` header, which the direct path leaves to
//! `rmcp`), and the transport rules hold on both paths: `Accept` negotiation (406),
//! `Content-Type` (415), `MCP-Protocol-Version` (400 for an unknown one), the `Host` check
//! (403; odd values such as `::1:80` or `localhost:@evil` answered alike), the body budget (413), GET/DELETE (405 with `Allow: POST`, no sessions), a
//! notification (202), a parse error, and methods the direct path does not take (`tools/list`).

use std::sync::Arc;

use molecule_runtime::builder::ComponentBuilder;
use molecule_runtime::mcp::http::{router, MAX_REQUEST_BYTES};
use molecule_runtime::workspace::approval::Gate;
use molecule_runtime::workspace::skills::{GrantNothing, SkillRegistry};
use molecule_tests::{host, repo_root, test_cache_dir};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

const BOTH: &str = "application/json, text/event-stream";

/// Serves `/mcp` over a registry with `json-query` on 127.0.0.1; returns the URL. The server
/// task ends with the test's runtime.
async fn serve() -> String {
    serve_gated(Gate::default()).await
}

/// [`serve`] with config.yaml's `approval.tools` as `gate`.
async fn serve_gated(gate: Gate) -> String {
    let registry = SkillRegistry::new(
        Arc::new(host()),
        ComponentBuilder::new(&test_cache_dir()),
        Arc::new(GrantNothing),
        Vec::new(),
    )
    .with_extra_dirs(vec![repo_root().join("demo/skills/json-query")]);
    let registry = Arc::new(registry);
    let snapshot = registry.load_all().await;
    assert!(snapshot.problems.is_empty(), "{:?}", snapshot.problems);
    let app = router(registry, &["mcp.example".to_owned()], gate);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/mcp")
}

fn call_body(id: u64, name: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name,
        "arguments": {"json": {"a": [1, 2]}, "pointer": "/a/1"}}})
}

/// A POST of `body` with `Accept` both types and `MCP-Protocol-Version: 2025-06-18`.
fn post(client: &Client, url: &str, body: &Value) -> RequestBuilder {
    client
        .post(url)
        .header("Accept", BOTH)
        .header("MCP-Protocol-Version", "2025-06-18")
        .json(body)
}

async fn json_of(response: Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("application/json"), "{kind}");
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_call_direct_and_rmcp_answer_alike() {
    let url = serve().await;
    let client = Client::new();
    let direct = json_of(
        post(&client, &url, &call_body(7, "query"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(direct["id"], 7);
    assert_eq!(direct["result"]["content"][0]["text"], "2", "{direct}");
    assert_eq!(direct["result"]["isError"], false);
    let via_rmcp = post(&client, &url, &call_body(7, "query")).header("Origin", "http://127.0.0.1");
    let via_rmcp = json_of(via_rmcp.send().await.unwrap()).await;
    // The receipt in `_meta` differs per call (ids, times); the rest is the same.
    let strip = |mut v: Value| {
        v["result"].as_object_mut().unwrap().remove("_meta");
        v
    };
    assert!(direct["result"]["_meta"].is_object(), "{direct}");
    assert_eq!(strip(direct), strip(via_rmcp));

    let unknown = post(&client, &url, &call_body(8, "no-such-tool"))
        .send()
        .await
        .unwrap();
    let unknown = json_of(unknown).await;
    assert_eq!(unknown["id"], 8);
    assert_eq!(unknown["result"]["isError"], true, "{unknown}");
    // A string id is echoed as a string.
    let mut body = call_body(0, "query");
    body["id"] = json!("abc");
    let answer = json_of(post(&client, &url, &body).send().await.unwrap()).await;
    assert_eq!(answer["id"], "abc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gated_tool_is_refused_on_both_paths() {
    let url = serve_gated(Gate::new(vec!["query".to_owned()])).await;
    let client = Client::new();
    let direct = json_of(
        post(&client, &url, &call_body(3, "query"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let via_rmcp = post(&client, &url, &call_body(3, "query")).header("Origin", "http://127.0.0.1");
    let via_rmcp = json_of(via_rmcp.send().await.unwrap()).await;
    for answer in [&direct, &via_rmcp] {
        assert_eq!(answer["result"]["isError"], true, "{answer}");
        let text = answer["result"]["content"][0]["text"].as_str().unwrap();
        assert!(text.contains("approval.tools"), "{text}");
    }
    assert_eq!(direct, via_rmcp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_rules_hold_for_tools_call() {
    let url = serve().await;
    let client = Client::new();
    let body = call_body(1, "query");
    let only_json = client
        .post(&url)
        .header("Accept", "application/json")
        .json(&body);
    assert_eq!(
        only_json.send().await.unwrap().status(),
        StatusCode::NOT_ACCEPTABLE
    );
    let text = client
        .post(&url)
        .header("Accept", BOTH)
        .header("Content-Type", "text/plain")
        .body(body.to_string());
    assert_eq!(
        text.send().await.unwrap().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let bad_version = client
        .post(&url)
        .header("Accept", BOTH)
        .header("MCP-Protocol-Version", "1999-01-01")
        .json(&body);
    assert_eq!(
        bad_version.send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let no_version = client.post(&url).header("Accept", BOTH).json(&body);
    let answer = json_of(no_version.send().await.unwrap()).await;
    assert_eq!(answer["result"]["content"][0]["text"], "2");
    let evil = post(&client, &url, &body).header("Host", "evil.example");
    assert_eq!(evil.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let allowed = post(&client, &url, &body).header("Host", "mcp.example:8000");
    let answer = json_of(allowed.send().await.unwrap()).await;
    assert_eq!(answer["result"]["content"][0]["text"], "2");
    let mut big = body.clone();
    big["params"]["arguments"]["pad"] = json!("x".repeat(MAX_REQUEST_BYTES));
    let big = post(&client, &url, &big).send().await.unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

/// Odd `Host` values get the same answer on the direct path as from `rmcp` (forced by an
/// `Origin`, which `rmcp` does not check here): the direct path judges `Host` exactly as
/// `rmcp` does, and leaves what does not parse to it. `::1:80` and `localhost:@evil` once
/// got 200 from the direct path (400 and 403 from `rmcp`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_host_values_are_answered_alike_on_both_paths() {
    let url = serve().await;
    let client = Client::new();
    let body = call_body(4, "query");
    let cases = [
        ("::1:80", Some(StatusCode::BAD_REQUEST)),
        ("localhost:@evil", Some(StatusCode::FORBIDDEN)),
        ("user@localhost", None),
        ("localhost:80:80", None),
        ("localhost:99999", None),
        ("localhost:", None),
        ("LOCALHOST:1", Some(StatusCode::OK)),
        ("[::1]:80", Some(StatusCode::OK)),
        ("[::1", None),
        ("127.0.0.1.evil", Some(StatusCode::FORBIDDEN)),
        ("mcp.example:8080", Some(StatusCode::OK)),
        ("mcp.example.:8080", None),
        ("", None),
    ];
    for (host, expected) in cases {
        let direct = post(&client, &url, &body).header("Host", host);
        let direct = direct.send().await.unwrap();
        let via_rmcp = post(&client, &url, &body)
            .header("Host", host)
            .header("Origin", "http://127.0.0.1");
        let via_rmcp = via_rmcp.send().await.unwrap();
        assert_eq!(direct.status(), via_rmcp.status(), "Host: {host:?}");
        if let Some(expected) = expected {
            assert_eq!(direct.status(), expected, "Host: {host:?}");
        }
        if direct.status() == StatusCode::OK {
            let answer = json_of(direct).await;
            assert_eq!(answer["result"]["content"][0]["text"], "2", "{host:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_methods_and_fallbacks() {
    let url = serve().await;
    let client = Client::new();
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let answer = client
            .request(method.clone(), &url)
            .header("Accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(answer.headers()["allow"], "POST", "{method}");
    }
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let list = json_of(post(&client, &url, &list).send().await.unwrap()).await;
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"query"), "{list}");
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let note = post(&client, &url, &note).send().await.unwrap();
    assert_eq!(note.status(), StatusCode::ACCEPTED);
    assert!(note.headers().get("mcp-session-id").is_none());
    let garbage = client
        .post(&url)
        .header("Accept", BOTH)
        .header("Content-Type", "application/json")
        .body("{not json");
    let garbage = garbage.send().await.unwrap();
    assert!(garbage.status().is_client_error(), "{}", garbage.status());
}

/// The requests a real client sends take the direct path; the ones the direct path does not
/// vouch for go to `rmcp` (which answers them, as the tests above show).
#[test]
fn direct_path_takes_plain_tools_calls_only() {
    use molecule_runtime::mcp::direct::{direct_call, headers_eligible};
    let hosts = vec!["127.0.0.1".to_owned(), "mcp.example:8000".to_owned()];
    let headers = |pairs: &[(&'static str, &'static str)]| {
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, reqwest::header::HeaderValue::from_static(value));
        }
        map
    };
    let plain = [
        ("host", "127.0.0.1:4000"),
        ("accept", "application/json, text/event-stream"),
        ("content-type", "application/json"),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    assert!(headers_eligible(&headers(&plain), &hosts));
    assert!(
        headers_eligible(&headers(&plain[..3]), &hosts),
        "no version header"
    );
    let mut two_accepts = plain.to_vec();
    two_accepts[1] = ("accept", "application/json");
    two_accepts.push(("accept", "text/event-stream;q=0.9"));
    assert!(headers_eligible(&headers(&two_accepts), &hosts));
    let with = |i: usize, pair: (&'static str, &'static str)| {
        let mut changed = plain.to_vec();
        changed[i] = pair;
        headers(&changed)
    };
    for changed in [
        with(0, ("host", "evil.example")),
        with(0, ("host", "mcp.example:9000")),
        with(1, ("accept", "application/json")),
        with(2, ("content-type", "text/plain")),
        with(3, ("mcp-protocol-version", "1999-01-01")),
        with(3, ("mcp-protocol-version", "2026-07-28")),
        with(3, ("origin", "http://127.0.0.1")),
    ] {
        assert!(!headers_eligible(&changed, &hosts), "{changed:?}");
    }
    assert!(headers_eligible(
        &with(0, ("host", "mcp.example:8000")),
        &hosts
    ));

    let body = |v: Value| bytes::Bytes::from(v.to_string());
    let (id, params) = direct_call(&body(call_body(3, "query"))).expect("a tools/call");
    assert_eq!(id.to_string(), "3");
    assert_eq!(params.name, "query");
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    assert!(direct_call(&body(list)).is_none());
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert!(direct_call(&body(note)).is_none());
    let mut negotiated = call_body(4, "query");
    negotiated["params"]["_meta"] =
        json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28"});
    assert!(direct_call(&body(negotiated)).is_none());
    assert!(direct_call(&bytes::Bytes::from_static(b"{not json")).is_none());
}
