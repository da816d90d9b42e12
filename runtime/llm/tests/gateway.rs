//! The Gateway: missing-credential errors naming the env var, per-request model overrides and
//! aliases, and token usage accumulated per key for `complete` and `stream`.

mod common;

use common::*;
use molecule_llm::*;
use serde_json::json;

fn sel(spec: &str) -> ModelSelection {
    ModelSelection::parse(spec).expect("parses")
}

fn script_creds(dir: &tempfile::TempDir) -> Credentials {
    let path = dir.path().join("s.yaml");
    std::fs::write(
        &path,
        "fallback:\n  text: hello there\n  usage: {input_tokens: 3, output_tokens: 2}\n",
    )
    .expect("write");
    Credentials {
        scripted_file: Some(path),
        ..Default::default()
    }
}

#[test]
fn missing_credentials_name_the_env_var() {
    for (spec, var) in [
        ("anthropic:claude-opus-4-7", "ANTHROPIC_API_KEY"),
        ("openai:gpt-4o", "OPENAI_API_KEY"),
        ("gemini:gemini-2.5-flash", "GEMINI_API_KEY"),
        ("openrouter/meta/llama", "OPENROUTER_API_KEY"),
        ("groq:llama3", "GROQ_API_KEY"),
        ("scripted:demo", "MOLECULE_LLM_SCRIPT"),
    ] {
        let err = Gateway::new(sel(spec), Credentials::default()).expect_err(spec);
        assert!(err.to_string().contains(var), "{spec}: {err}");
        assert_eq!(err.kind(), ErrorKind::Unavailable);
    }
    Gateway::new(sel("ollama:llama3.1:8b"), Credentials::default()).expect("ollama needs no key");
}

#[tokio::test]
async fn usage_accumulates_per_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::new(sel("scripted:demo"), script_creds(&dir)).expect("gateway");
    let req = ChatRequest {
        messages: vec![ChatMessage::user("hi")],
        ..Default::default()
    };
    gw.complete("task-1", req.clone()).await.expect("complete");
    gw.complete("task-1", req.clone()).await.expect("complete");
    let evs = collect(gw.stream("task-1", req.clone()).await.expect("stream")).await;
    assert!(matches!(evs.last(), Some(Ok(StreamEvent::Done(_)))));
    gw.complete("task-2", req).await.expect("complete");
    assert_eq!(
        gw.usage_for("task-1"),
        Usage {
            input_tokens: 9,
            output_tokens: 6
        }
    );
    assert_eq!(
        gw.total_usage(),
        Usage {
            input_tokens: 12,
            output_tokens: 8
        }
    );
    assert_eq!(
        gw.take_usage("task-2"),
        Usage {
            input_tokens: 3,
            output_tokens: 2
        }
    );
    assert_eq!(gw.usage_for("task-2"), Usage::default());
    assert_eq!(gw.usage_for("unknown"), Usage::default());
}

#[tokio::test]
async fn request_model_overrides_provider_and_alias() {
    let server = FakeServer::start(vec![
        Canned::json(
            200,
            json!({"choices": [{"finish_reason": "stop", "message": {"content": "from openai"}}]}),
        ),
        Canned::json(
            200,
            json!({"content": [{"type": "text", "text": "from claude"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 1}}),
        ),
    ])
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let creds = Credentials {
        openai_api_key: Some("sk-o".into()),
        openai_base_url: Some(format!("{}/v1", server.base)),
        anthropic_api_key: Some("sk-a".into()),
        anthropic_base_url: Some(server.base.clone()),
        ..script_creds(&dir)
    };
    let gw = Gateway::with_options(sel("scripted:demo"), creds, fast_options()).expect("gateway");
    let mut req = ChatRequest {
        model: Some("openai:gpt-4.1-mini".into()),
        messages: vec![ChatMessage::user("hi")],
        ..Default::default()
    };
    assert_eq!(
        gw.complete("k", req.clone())
            .await
            .expect("openai")
            .message
            .content,
        "from openai"
    );
    req.model = Some("anthropic:haiku".into());
    assert_eq!(
        gw.complete("k", req.clone())
            .await
            .expect("claude")
            .message
            .content,
        "from claude"
    );
    req.model = None;
    assert_eq!(
        gw.complete("k", req)
            .await
            .expect("default")
            .message
            .content,
        "hello there"
    );
    let seen = server.requests();
    assert_eq!(seen[0].body["model"], "gpt-4.1-mini");
    assert_eq!(seen[1].path, "/v1/messages");
    assert_eq!(seen[1].body["model"], "claude-haiku-4-5");
}

#[tokio::test]
async fn custom_provider_and_bad_override() {
    let p = ScriptedProvider::from_yaml("inline", "turns:\n  - text: inline\n").expect("script");
    let gw = Gateway::with_provider(sel("scripted:x"), std::sync::Arc::new(p));
    let req = ChatRequest {
        messages: vec![ChatMessage::user("q")],
        ..Default::default()
    };
    assert_eq!(
        gw.complete("k", req.clone())
            .await
            .expect("ok")
            .message
            .content,
        "inline"
    );
    let err = gw
        .complete(
            "k",
            ChatRequest {
                model: Some("gemini:".into()),
                ..req
            },
        )
        .await
        .expect_err("empty model");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

/// Smoke mode's gateway: a network provider fails at once (default model or per-request
/// override) and nothing connects to its endpoint, even with a key and a reachable base URL.
#[tokio::test]
async fn offline_gateway_never_connects() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let creds = Credentials {
        anthropic_api_key: Some("sk-ant-stub".into()),
        anthropic_base_url: Some(base.clone()),
        openai_api_key: Some("sk-stub".into()),
        openai_base_url: Some(base),
        ..Default::default()
    };
    let err = Gateway::offline(sel("anthropic:claude-opus-4-7"), creds.clone()).expect_err("net");
    assert!(
        matches!(&err, LlmError::Offline { provider, .. } if provider == "anthropic"),
        "{err}"
    );
    assert!(err.to_string().contains("offline in smoke mode"), "{err}");
    assert_eq!(
        err.kind(),
        ErrorKind::Failed,
        "final: adapters must not retry it"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let creds = Credentials {
        scripted_file: script_creds(&dir).scripted_file,
        ..creds
    };
    let gw = Gateway::offline(sel("scripted:demo"), creds).expect("scripted works offline");
    let mut req = ChatRequest {
        messages: vec![ChatMessage::user("hi")],
        ..Default::default()
    };
    let answer = gw
        .complete("k", req.clone())
        .await
        .expect("scripted answer");
    assert_eq!(answer.message.content, "hello there");
    req.model = Some("openai:gpt-4o".into());
    let err = gw.complete("k", req.clone()).await.expect_err("override");
    assert!(matches!(err, LlmError::Offline { .. }), "{err}");
    let Err(err) = gw.stream("k", req).await else {
        panic!("an offline gateway streamed from openai");
    };
    assert!(matches!(err, LlmError::Offline { .. }), "{err}");
    assert!(
        listener.accept().is_err(),
        "an offline gateway opened a connection"
    );
}
