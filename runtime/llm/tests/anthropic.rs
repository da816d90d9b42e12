//! Anthropic provider against a fake Messages API: headers and auth modes, system prompt and
//! tool_use / tool_result blocks, SSE events, overload retries and non-retried 400s.

mod common;

use common::*;
use molecule_llm::*;
use serde_json::json;

const KEY: &str = "sk-ant-test-secret-0987654321";

fn provider(base: &str, auth: AnthropicAuth) -> Anthropic {
    Anthropic::new(base, auth, Some(ANTHROPIC_API_KEY), &fast_options()).expect("provider")
}

fn api_key(base: &str) -> Anthropic {
    provider(base, AnthropicAuth::ApiKey(KEY.into()))
}

fn conversation() -> ChatRequest {
    ChatRequest {
        model: None,
        messages: vec![
            ChatMessage::system("You are terse."),
            ChatMessage::user("Weather?"),
            ChatMessage::assistant(
                "Checking.",
                vec![ToolCall {
                    id: "toolu_1".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Oslo"}"#.into(),
                }],
            ),
            ChatMessage::tool_result("toolu_1", "rain"),
            ChatMessage::user("And tomorrow?"),
        ],
        tools: vec![ToolSpec {
            name: "get_weather".into(),
            description: "Weather".into(),
            input_schema: r#"{"type":"object","properties":{"city":{"type":"string"}}}"#.into(),
        }],
        max_tokens: None,
        temperature: None,
    }
}

fn message(content: serde_json::Value, stop: &str) -> serde_json::Value {
    json!({"id": "msg_1", "type": "message", "role": "assistant", "content": content,
           "stop_reason": stop, "usage": {"input_tokens": 30, "output_tokens": 9}})
}

#[tokio::test]
async fn complete_maps_blocks_and_headers() {
    let server = FakeServer::start(vec![Canned::json(
        200,
        message(
            json!([{"type": "text", "text": "Let me look."},
                   {"type": "tool_use", "id": "toolu_2", "name": "get_weather",
                    "input": {"city": "Oslo", "day": "tomorrow"}}]),
            "tool_use",
        ),
    )])
    .await;
    let resp = api_key(&server.base)
        .complete("claude-opus-4-7", &conversation())
        .await
        .expect("complete");
    assert_eq!(resp.message.content, "Let me look.");
    assert_eq!(resp.stop_reason, "tool_use");
    assert_eq!(
        resp.usage,
        Usage {
            input_tokens: 30,
            output_tokens: 9
        }
    );
    let args: serde_json::Value =
        serde_json::from_str(&resp.message.tool_calls[0].arguments).expect("json");
    assert_eq!(args["day"], "tomorrow");

    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1/messages");
    assert_eq!(req.headers["x-api-key"], KEY);
    assert_eq!(req.headers["anthropic-version"], ANTHROPIC_VERSION);
    assert!(!req.headers.contains_key("authorization"));
    let b = &req.body;
    assert_eq!(b["system"], "You are terse.");
    assert_eq!(b["max_tokens"], DEFAULT_MAX_TOKENS);
    let msgs = b["messages"].as_array().expect("messages");
    assert_eq!(
        msgs.len(),
        3,
        "tool result and next user turn merge: {msgs:?}"
    );
    assert_eq!(msgs[1]["content"][1]["type"], "tool_use");
    assert_eq!(msgs[1]["content"][1]["input"]["city"], "Oslo");
    assert_eq!(msgs[2]["role"], "user");
    assert_eq!(
        msgs[2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "toolu_1", "content": "rain"})
    );
    assert_eq!(msgs[2]["content"][1]["text"], "And tomorrow?");
    assert_eq!(b["tools"][0]["input_schema"]["type"], "object");
}

#[tokio::test]
async fn oauth_token_uses_bearer_and_beta_header() {
    let server = FakeServer::start(vec![Canned::json(
        200,
        message(json!([{"type": "text", "text": "hi"}]), "end_turn"),
    )])
    .await;
    provider(&server.base, AnthropicAuth::OAuth("oat-token-abc".into()))
        .complete("claude-sonnet-4-6", &conversation())
        .await
        .expect("complete");
    let h = &server.requests()[0].headers;
    assert_eq!(h["authorization"], "Bearer oat-token-abc");
    assert_eq!(h["anthropic-beta"], OAUTH_BETA);
    assert!(!h.contains_key("x-api-key"));
}

fn stream_events() -> Vec<String> {
    vec![
        named(
            "message_start",
            json!({"type": "message_start", "message": {"id": "m", "type": "message",
            "role": "assistant", "content": [], "usage": {"input_tokens": 25, "output_tokens": 1}}}),
        ),
        named(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
        named("ping", json!({"type": "ping"})),
        named(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": "Okay, "}}),
        ),
        named(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": "checking."}}),
        ),
        named(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        named(
            "content_block_start",
            json!({"type": "content_block_start", "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {}}}),
        ),
        named(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": ""}}),
        ),
        named(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"Ber"}}),
        ),
        named(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": "gen\"}"}}),
        ),
        named(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 1}),
        ),
        named(
            "message_delta",
            json!({"type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 17}}),
        ),
        named("message_stop", json!({"type": "message_stop"})),
    ]
}

#[tokio::test]
async fn stream_text_and_tool_use() {
    let server = FakeServer::start(vec![Canned::sse_events(&stream_events())]).await;
    let evs = collect(
        api_key(&server.base)
            .stream("claude-haiku-4-5", &conversation())
            .await
            .expect("stream"),
    )
    .await;
    assert_eq!(deltas(&evs), vec!["Okay, ", "checking."]);
    let call = evs
        .iter()
        .find_map(|e| match e {
            Ok(StreamEvent::ToolCall(c)) => Some(c.clone()),
            _ => None,
        })
        .expect("tool call");
    assert_eq!(
        (call.id.as_str(), call.arguments.as_str()),
        ("toolu_9", r#"{"city":"Bergen"}"#)
    );
    let Some(Ok(StreamEvent::Done(done))) = evs.last() else {
        panic!("no Done: {evs:?}");
    };
    assert_eq!(done.message.content, "Okay, checking.");
    assert_eq!(done.stop_reason, "tool_use");
    assert_eq!(
        done.usage,
        Usage {
            input_tokens: 25,
            output_tokens: 17
        }
    );
    assert_eq!(server.requests()[0].body["stream"], true);
}

#[tokio::test]
async fn overloaded_529_is_retried() {
    let overloaded =
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
    let server = FakeServer::start(vec![
        Canned::json(529, overloaded),
        Canned::json(
            200,
            message(json!([{"type": "text", "text": "done"}]), "end_turn"),
        ),
    ])
    .await;
    let resp = api_key(&server.base)
        .complete("m", &conversation())
        .await
        .expect("retried");
    assert_eq!(resp.message.content, "done");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn overloaded_error_event_before_output_is_retried() {
    let first = vec![
        named(
            "message_start",
            json!({"type": "message_start", "message": {"usage": {"input_tokens": 5}}}),
        ),
        named(
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ),
    ];
    let server = FakeServer::start(vec![
        Canned::sse_events(&first),
        Canned::sse_events(&stream_events()),
    ])
    .await;
    let evs = collect(
        api_key(&server.base)
            .stream("m", &conversation())
            .await
            .expect("stream"),
    )
    .await;
    assert!(
        matches!(evs.last(), Some(Ok(StreamEvent::Done(_)))),
        "{evs:?}"
    );
    assert_eq!(deltas(&evs).concat(), "Okay, checking.");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn invalid_request_is_not_retried_and_key_is_hidden() {
    let server = FakeServer::start(vec![Canned::json(
        400,
        json!({"type": "error", "error": {"type": "invalid_request_error",
               "message": format!("messages.1: bad block (key {KEY})")}}),
    )])
    .await;
    let err = api_key(&server.base)
        .complete("m", &conversation())
        .await
        .expect_err("400");
    let text = err.to_string();
    assert!(
        text.contains("anthropic")
            && text.contains("400")
            && text.contains("invalid_request_error"),
        "{text}"
    );
    assert!(!text.contains(KEY), "{text}");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn stream_request_errors_are_returned_before_streaming() {
    let server = FakeServer::start(vec![Canned::json(
        401,
        json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
    )])
    .await;
    let err = api_key(&server.base)
        .stream("m", &conversation())
        .await
        .expect_err("401");
    assert!(err.to_string().contains("ANTHROPIC_API_KEY"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Failed);
}
