//! A fake OTLP/HTTP trace collector for the integration tests: axum on 127.0.0.1 (stopped when
//! the collector is dropped) that records every POST — path, content type, headers — and
//! decodes its spans from protobuf (`opentelemetry-proto`) or OTLP JSON. Integer attributes
//! are kept as their decimal text.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use prost::Message as _;
use serde_json::Value;

/// One span as the collector saw it.
#[derive(Debug, Clone)]
pub struct SeenSpan {
    pub name: String,
    pub service: String,
    /// The span's attributes, values as text.
    pub attrs: BTreeMap<String, String>,
    /// The resource's attributes, values as text.
    pub resource: BTreeMap<String, String>,
    /// OTLP span kind (3 = CLIENT); 0 when decoded from JSON.
    pub kind: i32,
    /// End minus start, in nanoseconds (protobuf only).
    pub duration_nanos: u64,
}

/// One export request.
#[derive(Debug, Clone)]
pub struct Export {
    pub path: String,
    pub content_type: String,
    pub headers: HeaderMap,
    pub spans: Vec<SeenSpan>,
}

type Seen = Arc<Mutex<Vec<Export>>>;

/// A fake OTLP/HTTP collector; its runtime (and so the server) stops when it is dropped.
pub struct Collector {
    /// The collector's runtime, also usable by the test for its own async calls.
    pub rt: tokio::runtime::Runtime,
    pub addr: SocketAddr,
    seen: Seen,
}

impl Collector {
    pub fn start() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Seen::default();
        let app = axum::Router::new()
            .fallback(record)
            .with_state(seen.clone());
        rt.spawn(async move { axum::serve(listener, app).await });
        Collector { rt, addr, seen }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn exports(&self) -> Vec<Export> {
        self.seen.lock().unwrap().clone()
    }

    pub fn spans(&self) -> Vec<SeenSpan> {
        self.exports().into_iter().flat_map(|e| e.spans).collect()
    }
}

/// Records one POST, decoding protobuf or JSON by its content type.
async fn record(State(seen): State<Seen>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let spans = if content_type.contains("json") {
        json_spans(&serde_json::from_slice(&body).unwrap_or(Value::Null))
    } else {
        ExportTraceServiceRequest::decode(body)
            .map(|req| proto_spans(&req))
            .unwrap_or_default()
    };
    seen.lock().unwrap().push(Export {
        path: uri.path().to_owned(),
        content_type,
        headers,
        spans,
    });
    StatusCode::OK
}

fn proto_attrs(attrs: &[KeyValue]) -> BTreeMap<String, String> {
    let text = |kv: &KeyValue| match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        other => Some(format!("{other:?}")),
    };
    attrs
        .iter()
        .map(|kv| (kv.key.clone(), text(kv).unwrap_or_default()))
        .collect()
}

fn proto_spans(req: &ExportTraceServiceRequest) -> Vec<SeenSpan> {
    let mut out = Vec::new();
    for rs in &req.resource_spans {
        let resource = proto_attrs(rs.resource.as_ref().map_or(&[][..], |r| &r.attributes));
        let service = resource.get("service.name").cloned().unwrap_or_default();
        for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
            out.push(SeenSpan {
                name: span.name.clone(),
                service: service.clone(),
                attrs: proto_attrs(&span.attributes),
                resource: resource.clone(),
                kind: span.kind,
                duration_nanos: span
                    .end_time_unix_nano
                    .saturating_sub(span.start_time_unix_nano),
            });
        }
    }
    out
}

fn json_attrs(attrs: &Value) -> BTreeMap<String, String> {
    let text = |v: &Value| {
        v["stringValue"]
            .as_str()
            .map_or(v.to_string(), str::to_owned)
    };
    let list = attrs.as_array().map_or(&[][..], Vec::as_slice);
    list.iter()
        .map(|kv| {
            (
                kv["key"].as_str().unwrap_or_default().to_owned(),
                text(&kv["value"]),
            )
        })
        .collect()
}

fn json_spans(req: &Value) -> Vec<SeenSpan> {
    let mut out = Vec::new();
    for rs in req["resourceSpans"].as_array().into_iter().flatten() {
        let resource = json_attrs(&rs["resource"]["attributes"]);
        let service = resource.get("service.name").cloned().unwrap_or_default();
        let scopes = rs["scopeSpans"].as_array().into_iter().flatten();
        for span in scopes.flat_map(|s| s["spans"].as_array().into_iter().flatten()) {
            out.push(SeenSpan {
                name: span["name"].as_str().unwrap_or_default().to_owned(),
                service: service.clone(),
                attrs: json_attrs(&span["attributes"]),
                resource: resource.clone(),
                kind: 0,
                duration_nanos: 0,
            });
        }
    }
    out
}
