//! OpenAI-compatible provider against a fake chat-completions server: request shape, tool
//! calls, SSE streaming with fragments assembled by index, retries and error mapping.

mod common;

use std::time::{Duration, Instant};

use common::*;
use molecule_llm::*;
use serde_json::json;

const KEY: &str = "sk-test-secret-1234567890";

fn provider(base: &str) -> OpenAiCompatible {
    OpenAiCompatible::new(
        "openai",
        &format!("{base}/v1"),
        Some(KEY.into()),
        Some(OPENAI_API_KEY),
        &fast_options(),
    )
    .expect("provider")
}

fn conversation() -> ChatRequest {
    ChatRequest {
        model: None,
        messages: vec![
            ChatMessage::system("Be brief."),
            ChatMessage::user("Weather in Paris?"),
            ChatMessage::assistant(
                "",
                vec![ToolCall {
                    id: "call_a".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into(),
                }],
            ),
            ChatMessage::tool_result("call_a", "sunny"),
        ],
        tools: vec![ToolSpec {
            name: "get_weather".into(),
            description: "Weather for a city".into(),
            input_schema: r#"{"type":"object","properties":{"city":{"type":"string"}}}"#.into(),
        }],
        max_tokens: Some(100),
        temperature: Some(0.5),
    }
}

#[tokio::test]
async fn complete_maps_request_and_tool_calls() {
    let server = FakeServer::start(vec![Canned::json(
        200,
        json!({"id": "x", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null, "tool_calls": [
                {"id": "call_b", "type": "function",
                 "function": {"name": "get_time", "arguments": "{\"tz\":\"CET\"}"}}]}}],
          "usage": {"prompt_tokens": 42, "completion_tokens": 7}}),
    )])
    .await;
    let resp = provider(&server.base)
        .complete("gpt-4.1-mini", &conversation())
        .await
        .expect("complete");
    assert_eq!(resp.stop_reason, "tool_use");
    assert_eq!(
        resp.usage,
        Usage {
            input_tokens: 42,
            output_tokens: 7
        }
    );
    assert_eq!(resp.message.role, ChatRole::Assistant);
    assert_eq!(resp.message.tool_calls.len(), 1);
    assert_eq!(resp.message.tool_calls[0].id, "call_b");
    assert_eq!(resp.message.tool_calls[0].arguments, r#"{"tz":"CET"}"#);

    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1/chat/completions");
    assert_eq!(req.headers["authorization"], format!("Bearer {KEY}"));
    let b = &req.body;
    assert_eq!(b["model"], "gpt-4.1-mini");
    assert_eq!(b["max_tokens"], 100);
    assert_eq!(b["messages"][0]["role"], "system");
    assert_eq!(b["messages"][2]["content"], serde_json::Value::Null);
    assert_eq!(b["messages"][2]["tool_calls"][0]["type"], "function");
    assert_eq!(
        b["messages"][2]["tool_calls"][0]["function"]["arguments"],
        r#"{"city":"Paris"}"#
    );
    assert_eq!(
        b["messages"][3],
        json!({"role": "tool", "tool_call_id": "call_a", "content": "sunny"})
    );
    assert_eq!(b["tools"][0]["type"], "function");
    assert_eq!(b["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(b["tools"][0]["function"]["parameters"]["type"], "object");
    assert!(b.get("stream").is_none());
}

#[tokio::test]
async fn stream_assembles_text_and_tool_call_fragments() {
    let chunk = |delta: serde_json::Value, finish: serde_json::Value| {
        data(json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}))
    };
    let events = vec![
        chunk(json!({"role": "assistant", "content": "Hel"}), json!(null)),
        chunk(json!({"content": "lo wor"}), json!(null)),
        chunk(json!({"content": "ld"}), json!(null)),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "search", "arguments": ""}}]}),
            json!(null),
        ),
        chunk(
            json!({"tool_calls": [{"index": 1, "id": "call_2", "type": "function",
            "function": {"name": "fetch", "arguments": "{\"url\":"}}]}),
            json!(null),
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"q\": \"ru"}}]}),
            json!(null),
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "st\"}"}}]}),
            json!(null),
        ),
        chunk(
            json!({"tool_calls": [{"index": 1, "function": {"arguments": "\"x\"}"}}]}),
            json!(null),
        ),
        chunk(json!({}), json!("tool_calls")),
        data(json!({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 5}})),
        "data: [DONE]\n\n".to_string(),
    ];
    let server = FakeServer::start(vec![Canned::sse_events(&events)]).await;
    let rx = provider(&server.base)
        .stream("gpt-4o", &conversation())
        .await
        .expect("stream");
    let evs = collect(rx).await;
    assert_eq!(deltas(&evs).concat(), "Hello world");
    assert!(deltas(&evs).len() >= 3);
    let calls: Vec<ToolCall> = evs
        .iter()
        .filter_map(|e| match e {
            Ok(StreamEvent::ToolCall(c)) => Some(c.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].id.as_str(), calls[0].name.as_str()),
        ("call_1", "search")
    );
    assert_eq!(calls[0].arguments, r#"{"q":"rust"}"#);
    assert_eq!(calls[1].arguments, r#"{"url":"x"}"#);
    let Some(Ok(StreamEvent::Done(done))) = evs.last() else {
        panic!("last event is not Done: {evs:?}");
    };
    assert_eq!(done.message.content, "Hello world");
    assert_eq!(done.message.tool_calls, calls);
    assert_eq!(done.stop_reason, "tool_use");
    assert_eq!(
        done.usage,
        Usage {
            input_tokens: 11,
            output_tokens: 5
        }
    );
    let body = &server.requests()[0].body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn retries_429_then_succeeds() {
    let ok = json!({"choices": [{"finish_reason": "stop", "message": {"content": "hi"}}]});
    let server = FakeServer::start(vec![
        Canned::json(
            429,
            json!({"error": {"message": "slow down", "type": "rate_limit"}}),
        )
        .header("retry-after-ms", "20"),
        Canned::json(200, ok),
    ])
    .await;
    let resp = provider(&server.base)
        .complete("gpt-4o", &conversation())
        .await
        .expect("retried");
    assert_eq!(resp.message.content, "hi");
    assert_eq!(resp.stop_reason, "end_turn");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn honours_retry_after_seconds() {
    let ok = json!({"choices": [{"finish_reason": "stop", "message": {"content": "ok"}}]});
    let server = FakeServer::start(vec![
        Canned::json(503, json!({"error": {"message": "busy"}})).header("retry-after", "1"),
        Canned::json(200, ok),
    ])
    .await;
    let start = Instant::now();
    provider(&server.base)
        .complete("gpt-4o", &conversation())
        .await
        .expect("retried");
    assert!(start.elapsed() >= Duration::from_millis(950));
}

#[tokio::test]
async fn bad_request_is_not_retried() {
    let server = FakeServer::start(vec![Canned::json(
        400,
        json!({"error": {"message": "Invalid schema for function", "type": "invalid_request_error"}}),
    )])
    .await;
    let err = provider(&server.base)
        .complete("gpt-4o", &conversation())
        .await
        .expect_err("400");
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let text = err.to_string();
    assert!(text.contains("openai") && text.contains("400") && text.contains("Invalid schema"));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn persistent_5xx_gives_up_after_max_attempts() {
    let e = || Canned::json(502, json!({"error": {"message": "bad gateway"}}));
    let server = FakeServer::start(vec![e(), e(), e(), e()]).await;
    let err = provider(&server.base)
        .complete("gpt-4o", &conversation())
        .await
        .expect_err("502");
    assert!(err.is_transient());
    assert!(err.to_string().contains("3 attempts"), "{err}");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn rejected_key_is_redacted_and_names_env_var() {
    let server = FakeServer::start(vec![Canned::json(
        401,
        json!({"error": {"message": format!("Incorrect API key provided: {KEY}"),
                         "type": "invalid_request_error"}}),
    )])
    .await;
    let err = provider(&server.base)
        .complete("gpt-4o", &conversation())
        .await
        .expect_err("401");
    let text = err.to_string();
    assert!(!text.contains(KEY), "{text}");
    assert!(
        text.contains("OPENAI_API_KEY") && text.contains("401"),
        "{text}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn stream_error_chunk_and_bad_arguments() {
    let server = FakeServer::start(vec![Canned::sse(vec![
        data(json!({"choices": [{"index": 0, "delta": {"content": "par"}}]})),
        data(json!({"error": {"message": "context too long", "type": "invalid_request_error"}})),
    ])])
    .await;
    let evs = collect(
        provider(&server.base)
            .stream("m", &conversation())
            .await
            .expect("ok"),
    )
    .await;
    assert_eq!(deltas(&evs), vec!["par"]);
    let err = evs.last().expect("events").clone().expect_err("error last");
    assert!(err.to_string().contains("context too long"));

    let mut bad = conversation();
    bad.messages[2].tool_calls[0].arguments = "{not json".into();
    let err = provider(&server.base)
        .complete("m", &bad)
        .await
        .expect_err("bad args");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("message 2"), "{err}");
}
