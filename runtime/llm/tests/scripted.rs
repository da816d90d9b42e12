//! The `scripted` provider: multi-turn agent loops, `when` rules, tool calls from YAML maps,
//! streaming in several deltas, determinism under concurrency, and script errors that name
//! the file, line or entry.

mod common;

use common::*;
use molecule_llm::*;

const SCRIPT: &str = r#"
stream_chunk_chars: 5
turns:
  - text: "Let me search."
    tool_calls:
      - name: web_search
        arguments: {query: rust wasm, limit: 3, tags: [a, b]}
  - text: "Found it: {{last_user}}"
rules:
  - when: "WEATHER"
    turns:
      - tool_calls:
          - name: get_weather
            id: w1
            arguments:
              city: Paris
      - text: "Sunny."
        usage: {input_tokens: 10, output_tokens: 2}
fallback:
  text: "(script finished)"
"#;

fn provider() -> ScriptedProvider {
    ScriptedProvider::from_yaml("demo.yaml", SCRIPT).expect("script parses")
}

fn req(messages: Vec<ChatMessage>) -> ChatRequest {
    ChatRequest {
        messages,
        ..Default::default()
    }
}

#[tokio::test]
async fn multi_turn_agent_loop() {
    let p = provider();
    let mut conv = vec![ChatMessage::system("sys"), ChatMessage::user("find rust")];
    let r1 = p.complete("any", &req(conv.clone())).await.expect("turn 0");
    assert_eq!(r1.stop_reason, "tool_use");
    assert_eq!(r1.message.content, "Let me search.");
    let call = &r1.message.tool_calls[0];
    assert_eq!(
        (call.id.as_str(), call.name.as_str()),
        ("call_0_0", "web_search")
    );
    let args: serde_json::Value = serde_json::from_str(&call.arguments).expect("json");
    assert_eq!(
        args,
        serde_json::json!({"query": "rust wasm", "limit": 3, "tags": ["a", "b"]})
    );
    assert!(r1.usage.input_tokens > 0 && r1.usage.output_tokens > 0);

    conv.push(r1.message.clone());
    conv.push(ChatMessage::tool_result(&call.id, "[results]"));
    let r2 = p.complete("any", &req(conv.clone())).await.expect("turn 1");
    assert_eq!(r2.message.content, "Found it: find rust");
    assert_eq!(r2.stop_reason, "end_turn");
    assert!(r2.message.tool_calls.is_empty());

    conv.push(r2.message);
    let r3 = p.complete("any", &req(conv)).await.expect("fallback");
    assert_eq!(r3.message.content, "(script finished)");
}

#[tokio::test]
async fn when_rules_match_last_user_message_case_insensitively() {
    let p = provider();
    let mut conv = vec![ChatMessage::user("what's the weather?")];
    let r1 = p
        .complete("m", &req(conv.clone()))
        .await
        .expect("rule turn 0");
    assert_eq!(r1.message.tool_calls[0].id, "w1");
    assert_eq!(r1.message.tool_calls[0].arguments, r#"{"city":"Paris"}"#);
    conv.push(r1.message);
    conv.push(ChatMessage::tool_result("w1", "sunny"));
    let r2 = p.complete("m", &req(conv)).await.expect("rule turn 1");
    assert_eq!(r2.message.content, "Sunny.");
    assert_eq!(
        r2.usage,
        Usage {
            input_tokens: 10,
            output_tokens: 2
        }
    );
}

#[tokio::test]
async fn stream_splits_text_into_deltas() {
    let p = provider();
    let evs = collect(
        p.stream("m", &req(vec![ChatMessage::user("go")]))
            .await
            .expect("stream"),
    )
    .await;
    let d = deltas(&evs);
    assert_eq!(d, vec!["Let m", "e sea", "rch."]);
    assert!(matches!(&evs[3], Ok(StreamEvent::ToolCall(c)) if c.name == "web_search"));
    let Some(Ok(StreamEvent::Done(done))) = evs.last() else {
        panic!("no Done: {evs:?}");
    };
    assert_eq!(done.message.content, "Let me search.");
    assert_eq!(evs.len(), 5);
}

#[tokio::test]
async fn deterministic_under_concurrency() {
    let p = std::sync::Arc::new(provider());
    let mut handles = Vec::new();
    for i in 0..32 {
        let p = p.clone();
        handles.push(tokio::spawn(async move {
            let mut conv = vec![ChatMessage::user(format!("q{i}"))];
            if i % 2 == 1 {
                conv.push(ChatMessage::assistant("x", vec![]));
            }
            (
                i,
                p.complete("m", &req(conv))
                    .await
                    .expect("ok")
                    .message
                    .content,
            )
        }));
    }
    for h in handles {
        let (i, text) = h.await.expect("join");
        let want = if i % 2 == 1 {
            format!("Found it: q{i}")
        } else {
            "Let me search.".into()
        };
        assert_eq!(text, want);
    }
}

#[tokio::test]
async fn out_of_turns_and_error_entries() {
    let p = ScriptedProvider::from_yaml("short.yaml", "turns:\n  - text: one\n  - error: boom\n")
        .expect("parses");
    let conv = vec![
        ChatMessage::user("a"),
        ChatMessage::assistant("one", vec![]),
    ];
    let err = p.complete("m", &req(conv)).await.expect_err("error entry");
    assert!(err.to_string().contains("boom"));
    let conv = vec![
        ChatMessage::user("a"),
        ChatMessage::assistant("1", vec![]),
        ChatMessage::assistant("2", vec![]),
    ];
    let err = p.complete("m", &req(conv)).await.expect_err("out of turns");
    assert!(err.to_string().contains("short.yaml") && err.to_string().contains("fallback"));
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let err =
        ScriptedProvider::from_yaml("bad.yaml", "turns:\n  - text: ok\n  - text: [unclosed\n")
            .expect_err("malformed");
    let text = err.to_string();
    assert!(text.contains("bad.yaml") && text.contains("line"), "{text}");
}

#[test]
fn bad_entries_name_the_entry() {
    let cases = [
        (
            "turns:\n  - text: a\n  - tool_calls:\n      - name: t\n        arguments: [1]\n",
            "turns[1].tool_calls[0]",
        ),
        ("turns:\n  - {}\n", "turns[0]"),
        ("rules:\n  - when: ''\n    turns: [{text: a}]\n", "rules[0]"),
        ("turns:\n  - txt: typo\n", "txt"),
        ("stream_chunk_chars: 3\n", "no responses"),
    ];
    for (yaml, want) in cases {
        let text = ScriptedProvider::from_yaml("s.yaml", yaml)
            .expect_err(yaml)
            .to_string();
        assert!(
            text.contains("s.yaml") && text.contains(want),
            "{yaml}: {text}"
        );
    }
}

#[test]
fn from_file_reads_and_reports_missing_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("script.yaml");
    std::fs::write(&path, SCRIPT).expect("write");
    ScriptedProvider::from_file(&path).expect("loads");
    let missing = dir.path().join("nope.yaml");
    let text = ScriptedProvider::from_file(&missing)
        .expect_err("missing")
        .to_string();
    assert!(text.contains("nope.yaml"), "{text}");
}

#[tokio::test]
async fn shipped_demo_script_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo.yaml");
    let p = ScriptedProvider::from_file(&path).expect("demo script loads");
    let r = p
        .complete("m", &req(vec![ChatMessage::user("How is the weather?")]))
        .await
        .expect("weather rule");
    assert_eq!(r.message.tool_calls[0].id, "call_weather");
    let r = p
        .complete("m", &req(vec![ChatMessage::user("hi")]))
        .await
        .expect("default turn");
    assert_eq!(r.message.content, "Hello! You said: hi");
}
