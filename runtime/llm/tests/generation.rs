//! The generation span of a model call (`molecule_llm::generation`), seen through a
//! `tracing` layer that records every span's fields: `complete` and `stream` (usage recorded
//! from the stream's `Done`), and a failing provider
//! (`error.type` and an ERROR status, no error text). No field quotes the prompt or answer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use molecule_llm::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::Layer;

/// A closed span: its name and fields as text.
#[derive(Debug, Clone, Default)]
struct Closed {
    name: String,
    fields: BTreeMap<String, String>,
}

/// Records the fields of every span, keeps the closed ones.
#[derive(Clone, Default)]
struct Recorder {
    open: Arc<Mutex<BTreeMap<u64, Closed>>>,
    closed: Arc<Mutex<Vec<Closed>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>> Layer<S>
    for Recorder
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut span = Closed {
            name: attrs.metadata().name().to_owned(),
            ..Closed::default()
        };
        attrs.record(&mut Fields(&mut span.fields));
        self.open.lock().unwrap().insert(id.into_u64(), span);
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(span) = self.open.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }
    fn on_close(&self, id: Id, _: Context<'_, S>) {
        if let Some(span) = self.open.lock().unwrap().remove(&id.into_u64()) {
            self.closed.lock().unwrap().push(span);
        }
    }
}

impl Recorder {
    fn generations(&self) -> Vec<Closed> {
        let closed = self.closed.lock().unwrap();
        closed
            .iter()
            .filter(|s| s.name == "llm_generation")
            .cloned()
            .collect()
    }
}

const PROMPT: &str = "a private prompt 123";

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::user(PROMPT)],
        ..Default::default()
    }
}

fn scripted() -> Gateway {
    let script =
        "turns:\n  - text: \"an answer that is long enough to stream\"\nstream_chunk_chars: 4\n";
    let provider = ScriptedProvider::from_yaml("test", script).unwrap();
    let sel = ModelSelection::resolve(None, "scripted:demo").unwrap();
    Gateway::with_provider(sel, Arc::new(provider))
}

/// Runs `body` on a current-thread runtime with `recorder` as the default subscriber.
fn traced<F: std::future::Future<Output = ()>>(recorder: &Recorder, body: F) {
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(body);
    drop(rt);
}

fn assert_usage_and_model(span: &Closed) {
    let f = |k: &str| span.fields.get(k).map(String::as_str);
    assert_eq!(f("otel.name"), Some("chat demo"), "{span:?}");
    assert_eq!(f("otel.kind"), Some("client"));
    assert_eq!(f("gen_ai.operation.name"), Some("chat"));
    assert_eq!(f("gen_ai.provider.name"), Some("scripted"));
    assert_eq!(f("gen_ai.request.model"), Some("demo"));
    assert_eq!(f("gen_ai.response.model"), Some("demo"));
    for key in ["gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"] {
        let n: u64 = f(key)
            .unwrap_or_else(|| panic!("no {key}: {span:?}"))
            .parse()
            .unwrap();
        assert!(n > 0, "{key}: {span:?}");
    }
    assert!(f("error.type").is_none(), "{span:?}");
    for value in span.fields.values() {
        assert!(
            !value.contains(PROMPT) && !value.contains("an answer"),
            "{span:?}"
        );
    }
}

#[test]
fn complete_records_a_generation() {
    let recorder = Recorder::default();
    traced(&recorder, async {
        scripted().complete("t", request()).await.unwrap();
    });
    let spans = recorder.generations();
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_usage_and_model(&spans[0]);
}

#[test]
fn stream_records_usage_from_done() {
    let recorder = Recorder::default();
    let rec = recorder.clone();
    traced(&recorder, async move {
        let mut stream = scripted().stream("t", request()).await.unwrap();
        let mut deltas = 0;
        while let Some(event) = stream.recv().await {
            match event.unwrap() {
                StreamEvent::TextDelta(_) => deltas += 1,
                StreamEvent::Done(_) => break,
                StreamEvent::ToolCall(_) => {}
            }
        }
        assert!(deltas > 1, "not streamed in pieces");
        drop(stream);
        // The forwarding task ends once the provider's stream is drained.
        for _ in 0..100 {
            if !rec.generations().is_empty() {
                break;
            }
            tokio::task::yield_now().await;
        }
    });
    let spans = recorder.generations();
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_usage_and_model(&spans[0]);
}

/// A provider that always fails with an error quoting a secret-looking text.
struct Failing;

#[async_trait]
impl Provider for Failing {
    fn name(&self) -> &str {
        "anthropic"
    }
    async fn complete(&self, _: &str, _: &ChatRequest) -> Result<ChatResponse, LlmError> {
        Err(LlmError::InvalidInput("key sk-ant-oops rejected".into()))
    }
    async fn stream(&self, _: &str, _: &ChatRequest) -> Result<ChatStream, LlmError> {
        Err(LlmError::InvalidInput("key sk-ant-oops rejected".into()))
    }
}

#[test]
fn failures_record_the_error_class_only() {
    let recorder = Recorder::default();
    traced(&recorder, async {
        let sel = ModelSelection::resolve(None, "anthropic:claude-x").unwrap();
        let gateway = Gateway::with_provider(sel, Arc::new(Failing));
        assert!(gateway.complete("t", request()).await.is_err());
        assert!(gateway.stream("t", request()).await.is_err());
    });
    let spans = recorder.generations();
    assert_eq!(spans.len(), 2, "{spans:?}");
    for span in &spans {
        assert_eq!(span.fields["error.type"], "invalid_input", "{span:?}");
        assert_eq!(span.fields["otel.status_code"], "ERROR");
        assert_eq!(span.fields["gen_ai.provider.name"], "anthropic");
        assert!(!span.fields.contains_key("gen_ai.usage.input_tokens"));
        assert!(
            span.fields.values().all(|v| !v.contains("sk-ant-oops")),
            "{span:?}"
        );
    }
}
