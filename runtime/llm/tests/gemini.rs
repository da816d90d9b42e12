//! Gemini provider against a fake Generative Language API: paths, `x-goog-api-key`,
//! contents / systemInstruction / functionDeclarations, function calls, SSE streaming, retries.

mod common;

use common::*;
use molecule_llm::*;
use serde_json::json;

const KEY: &str = "AIza-test-secret-55555";

fn provider(base: &str) -> Gemini {
    Gemini::new(base, KEY.into(), &fast_options()).expect("provider")
}

fn conversation() -> ChatRequest {
    ChatRequest {
        model: None,
        messages: vec![
            ChatMessage::system("Be helpful."),
            ChatMessage::user("Time in Tokyo?"),
            ChatMessage::assistant(
                "",
                vec![ToolCall {
                    id: "c1".into(),
                    name: "get_time".into(),
                    arguments: r#"{"tz":"Asia/Tokyo"}"#.into(),
                }],
            ),
            ChatMessage::tool_result("c1", "09:00"),
        ],
        tools: vec![ToolSpec {
            name: "get_time".into(),
            description: "Current time".into(),
            input_schema:
                r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
                "properties":{"tz":{"type":"string"}},"additionalProperties":false}"#
                    .into(),
        }],
        max_tokens: Some(64),
        temperature: Some(0.2),
    }
}

fn answer(parts: serde_json::Value, finish: &str) -> serde_json::Value {
    json!({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish}],
           "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 4, "totalTokenCount": 16}})
}

#[tokio::test]
async fn complete_maps_contents_and_function_calls() {
    let server = FakeServer::start(vec![Canned::json(
        200,
        answer(
            json!([{"functionCall": {"name": "get_time", "args": {"tz": "UTC"}}}]),
            "STOP",
        ),
    )])
    .await;
    let resp = provider(&server.base)
        .complete("gemini-2.5-flash", &conversation())
        .await
        .expect("complete");
    assert_eq!(resp.stop_reason, "tool_use");
    assert_eq!(
        resp.usage,
        Usage {
            input_tokens: 12,
            output_tokens: 4
        }
    );
    let call = &resp.message.tool_calls[0];
    assert_eq!(
        (call.name.as_str(), call.arguments.as_str()),
        ("get_time", r#"{"tz":"UTC"}"#)
    );
    assert!(!call.id.is_empty());

    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(req.headers["x-goog-api-key"], KEY);
    let b = &req.body;
    assert_eq!(b["systemInstruction"]["parts"][0]["text"], "Be helpful.");
    assert_eq!(b["contents"][0]["role"], "user");
    assert_eq!(b["contents"][1]["role"], "model");
    assert_eq!(
        b["contents"][1]["parts"][0]["functionCall"]["args"]["tz"],
        "Asia/Tokyo"
    );
    assert_eq!(
        b["contents"][2]["parts"][0]["functionResponse"],
        json!({"name": "get_time", "response": {"result": "09:00"}})
    );
    let decl = &b["tools"][0]["functionDeclarations"][0];
    assert_eq!(decl["name"], "get_time");
    assert!(decl["parameters"].get("$schema").is_none());
    assert!(decl["parameters"].get("additionalProperties").is_none());
    assert_eq!(b["generationConfig"]["maxOutputTokens"], 64);
}

#[tokio::test]
async fn stream_text_and_function_calls_across_chunks() {
    let events = vec![
        data(
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Let me "}]}}]}),
        ),
        data(
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "check."}]}}]}),
        ),
        data(
            json!({"candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "get_time", "args": {"tz": "JST"}}}]}}]}),
        ),
        data(answer(
            json!([{"functionCall": {"id": "fc-2", "name": "get_date", "args": {}}}]),
            "STOP",
        )),
    ];
    let server = FakeServer::start(vec![Canned::sse_events(&events)]).await;
    let evs = collect(
        provider(&server.base)
            .stream("gemini-2.5-pro", &conversation())
            .await
            .expect("stream"),
    )
    .await;
    assert_eq!(deltas(&evs), vec!["Let me ", "check."]);
    let calls: Vec<ToolCall> = evs
        .iter()
        .filter_map(|e| match e {
            Ok(StreamEvent::ToolCall(c)) => Some(c.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].id, "fc-2");
    assert_eq!(calls[1].arguments, "{}");
    let Some(Ok(StreamEvent::Done(done))) = evs.last() else {
        panic!("no Done: {evs:?}");
    };
    assert_eq!(done.message.content, "Let me check.");
    assert_eq!(done.stop_reason, "tool_use");
    assert_eq!(done.usage.input_tokens, 12);
    let req = &server.requests()[0];
    assert_eq!(
        req.path,
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
    );
    assert_eq!(req.query.as_deref(), Some("alt=sse"));
}

#[tokio::test]
async fn resource_exhausted_then_ok() {
    let server = FakeServer::start(vec![
        Canned::json(
            429,
            json!({"error": {"code": 429, "message": "Quota", "status": "RESOURCE_EXHAUSTED"}}),
        ),
        Canned::json(200, answer(json!([{"text": "hi"}]), "STOP")),
    ])
    .await;
    let resp = provider(&server.base)
        .complete("gemini-2.5-flash", &conversation())
        .await
        .expect("retried");
    assert_eq!(resp.message.content, "hi");
    assert_eq!(resp.stop_reason, "end_turn");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn invalid_argument_is_not_retried() {
    let server = FakeServer::start(vec![Canned::json(
        400,
        json!({"error": {"code": 400, "message": "Invalid JSON payload", "status": "INVALID_ARGUMENT"}}),
    )])
    .await;
    let err = provider(&server.base)
        .complete("gemini-2.5-flash", &conversation())
        .await
        .expect_err("400");
    let text = err.to_string();
    assert!(
        text.contains("gemini") && text.contains("INVALID_ARGUMENT") && text.contains("400"),
        "{text}"
    );
    assert_eq!(server.requests().len(), 1);
    let err = provider(&server.base)
        .complete("bad/model?", &conversation())
        .await
        .expect_err("name");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}
