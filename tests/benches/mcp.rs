//! The MCP tool-call round trip against a direct sandboxed call of the same tool
//! (`json-query`'s `query`, one skill registry, warm compiled code):
//!
//! * `mcp_call/direct`: `SkillRegistry::call`, the path an adapter's tool call ends in (fresh
//!   store and instance, the call, the receipt), made from a guest-pool thread as an adapter's
//!   tool call is: no thread hop;
//! * `mcp_call/direct_hop`: the same call made from the bench thread: one hop to the guest
//!   pool and back (two cross-thread wake-ups);
//! * `mcp_call/handler`: `McpServer::call`, the same call plus the MCP result conversion (its
//!   first poll on the bench thread: `scheduler::start_here`). Back to back, first polls use
//!   more than the half a thread `start_here` allows, so once its burst is spent some
//!   iterations hop: the figure mixes both paths (`raw_http`, at ~80 µs a call, stays within);
//! * `mcp_call/handler_on_worker`: the same, spawned on the runtime's worker threads (where
//!   a served request runs) and awaited from the bench thread: the handler plus one task hop;
//! * `mcp_call/decode`: the direct path's decoding of the request body into `rmcp`'s
//!   `ClientJsonRpcMessage` alone;
//! * `mcp_call/http`: a whole `tools/call` over the Streamable HTTP transport at `/mcp` on
//!   127.0.0.1 (one keep-alive connection, JSON answer), request encoding and parsing included;
//!   This is the path a real client's call takes (`MCP-Protocol-Version` header, the direct
//!   `tools/call` path of `runtime/src/mcp/direct.rs`);
//! * `mcp_call/http_rmcp`: the same request with an `Origin` header, which the direct path
//!   leaves to `rmcp`'s stateless service (a handler service and two tasks per request): the
//!   cost the direct path removes;
//! * `mcp_call/http_noop`: the same POST and JSON parse against a route on the same server that
//!   answers a fixed JSON-RPC result without calling anything: the HTTP round trip alone;
//! * `mcp_call/raw_http`, `raw_http_rmcp`, `raw_http_noop`: the same three requests from a
//!   minimal blocking HTTP/1.1 client on the bench thread (keep-alive, `Content-Length`
//!   framed): the server's round trip as an out-of-process client sees it, without
//!   `reqwest`'s connection task (two more thread hops per request on this runtime).
//!
//! `raw_http` − `direct` is what MCP over HTTP adds to a tool call as the server sees it (goal:
//! within 0.1 ms), of which `raw_http_noop` is the loopback HTTP part and the rest decoding,
//! dispatch and encoding; `http` adds what a `reqwest` client costs on top. Run:
//! `cargo bench -p molecule-tests --bench mcp` (or `--profile dev` for a quicker build).

use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use molecule_runtime::builder::ComponentBuilder;
use molecule_runtime::limits::LimitKeys;
use molecule_runtime::mcp::McpServer;
use molecule_runtime::scheduler::pool;
use molecule_runtime::workspace::skills::{GrantNothing, SkillRegistry};
use molecule_tests::{host, repo_root, test_cache_dir};
use serde_json::{json, Value};

const INPUT: &str = r#"{"json":{"a":[1,2],"b":{"c":"d"}},"pointer":"/a/1"}"#;

/// A registry with `json-query` loaded.
fn registry(rt: &tokio::runtime::Runtime) -> Arc<SkillRegistry> {
    let registry = SkillRegistry::new(
        Arc::new(host()),
        ComponentBuilder::new(&test_cache_dir()),
        Arc::new(GrantNothing),
        Vec::new(),
    )
    .with_extra_dirs(vec![repo_root().join("demo/skills/json-query")]);
    let registry = Arc::new(registry);
    let snapshot = rt.block_on(registry.load_all());
    assert!(snapshot.problems.is_empty(), "{:?}", snapshot.problems);
    registry
}

/// Serves `/mcp` over `registry` on 127.0.0.1 and returns its URL; the server lives as long
/// as the runtime.
fn serve(rt: &tokio::runtime::Runtime, registry: Arc<SkillRegistry>) -> String {
    let noop = || async {
        axum::Json(json!({"jsonrpc": "2.0", "id": 1,
            "result": {"content": [{"type": "text", "text": "2"}], "isError": false}}))
    };
    let app = molecule_runtime::mcp::http::router(registry, &[], Default::default())
        .route("/noop", axum::routing::post(noop));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    rt.spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/mcp")
}

fn mcp_call(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let registry = registry(&rt);
    let server = McpServer::new(registry.clone(), LimitKeys::CONFIG);
    let url = serve(&rt, registry.clone());
    let client = reqwest::Client::new();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "query", "arguments": serde_json::from_str::<Value>(INPUT).unwrap()}});
    let noop_url = url.replace("/mcp", "/noop");
    let (client, body) = (&client, &body);
    let http_call = |url: String, origin: bool| async move {
        let mut request = client.post(&url);
        if origin {
            request = request.header("Origin", "http://127.0.0.1");
        }
        let answer: Value = request
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2025-06-18")
            .json(body)
            .send()
            .await
            .expect("POST /mcp")
            .json()
            .await
            .expect("JSON answer");
        assert_eq!(answer["result"]["content"][0]["text"], "2", "{answer}");
    };
    rt.block_on(http_call(url.clone(), false));
    rt.block_on(http_call(url.clone(), true));
    rt.block_on(http_call(noop_url.clone(), false));

    let mut group = c.benchmark_group("mcp_call");
    group.bench_function("direct", |b| {
        b.iter_custom(|iters| {
            let registry = registry.clone();
            let timed = rt.block_on(pool::run(async move {
                let started = Instant::now();
                for _ in 0..iters {
                    let out = registry.call("query", INPUT).await.expect("call");
                    assert_eq!(out, "2");
                }
                started.elapsed()
            }));
            timed.expect("the pool ran the calls")
        })
    });
    group.bench_function("direct_hop", |b| {
        b.iter(|| {
            let out = rt.block_on(registry.call("query", INPUT)).expect("call");
            assert_eq!(out, "2");
        })
    });
    group.bench_function("handler", |b| {
        b.iter(|| {
            let out = rt.block_on(server.call("query", INPUT));
            assert_eq!(out.is_error, Some(false));
        })
    });
    group.bench_function("handler_on_worker", |b| {
        b.iter(|| {
            let server = server.clone();
            let task = rt.spawn(async move { server.call("query", INPUT).await });
            let out = rt.block_on(task).expect("task");
            assert_eq!(out.is_error, Some(false));
        })
    });
    let bytes = axum::body::Bytes::from(body.to_string());
    group.bench_function("decode", |b| {
        b.iter(|| {
            let (_, params) = molecule_runtime::mcp::direct::direct_call(&bytes).expect("call");
            assert_eq!(params.name, "query");
        })
    });
    group.bench_function("http", |b| {
        b.iter(|| rt.block_on(http_call(url.clone(), false)))
    });
    group.bench_function("http_rmcp", |b| {
        b.iter(|| rt.block_on(http_call(url.clone(), true)))
    });
    group.bench_function("http_noop", |b| {
        b.iter(|| rt.block_on(http_call(noop_url.clone(), false)))
    });
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_owned();
    let raw_body = body.to_string();
    for (name, path, origin) in [
        ("raw_http", "/mcp", false),
        ("raw_http_rmcp", "/mcp", true),
        ("raw_http_noop", "/noop", false),
    ] {
        let mut client = RawClient::connect(&addr);
        let request = client.request(path, origin, &raw_body);
        group.bench_function(name, |b| b.iter(|| client.round_trip(&request)));
    }
    group.finish();
}

/// A minimal blocking HTTP/1.1 client on the bench thread (one keep-alive connection, no
/// async runtime of its own): what the `raw_*` figures measure is the server's round trip,
/// as an out-of-process client such as `curl` sees it, without a client library's task hops.
struct RawClient {
    stream: std::io::BufReader<std::net::TcpStream>,
    addr: String,
}

impl RawClient {
    fn connect(addr: &str) -> Self {
        let stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        RawClient {
            stream: std::io::BufReader::new(stream),
            addr: addr.to_owned(),
        }
    }

    /// The bytes of a `tools/call` POST to `path` (with an `Origin` header when `origin`).
    fn request(&self, path: &str, origin: bool, body: &str) -> Vec<u8> {
        let origin = if origin {
            "Origin: http://127.0.0.1\r\n"
        } else {
            ""
        };
        format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json, text/event-stream\r\n\
             MCP-Protocol-Version: 2025-06-18\r\nContent-Type: application/json\r\n{origin}\
             Content-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .into_bytes()
    }

    /// Sends `request`, reads the whole answer (`Content-Length` framed) and checks the tool's
    /// result is `2`.
    fn round_trip(&mut self, request: &[u8]) {
        use std::io::{BufRead, Read, Write};
        self.stream.get_mut().write_all(request).expect("write");
        let (mut line, mut length) = (String::new(), None);
        loop {
            line.clear();
            self.stream.read_line(&mut line).expect("read header");
            if line == "\r\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = Some(v.trim().parse::<usize>().expect("length"));
            }
            assert!(!line.is_empty(), "connection closed");
        }
        let mut body = vec![0; length.expect("Content-Length")];
        self.stream.read_exact(&mut body).expect("read body");
        let answer: Value = serde_json::from_slice(&body).expect("JSON answer");
        assert_eq!(answer["result"]["content"][0]["text"], "2", "{answer}");
    }
}

criterion_group!(benches, mcp_call);
criterion_main!(benches);
