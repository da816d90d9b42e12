//! Unit tests of approval: reading answers, binding them to the pending id, the question's
//! escaping and caps, and the gate's interception.

use std::collections::HashMap;
use std::sync::Arc;

use molecule_a2a::types::{Message, Part, Role};
use serde_json::json;

use super::*;

fn user(text: &str) -> Message {
    Message::new(Role::User, vec![Part::text(text)])
}

fn tool_pending() -> Pending {
    Pending::new(Asked::Tool {
        tool: "write_file".into(),
        input: r#"{"path":"a"}"#.into(),
    })
}

#[test]
fn reads_text_answers() {
    let a = parse_answer(&user("Approve"));
    assert_eq!((a.verdict, a.id), (Verdict::Approved, None));
    let a = parse_answer(&user("approve 3f2a9c0d1e4b"));
    assert_eq!(
        (a.verdict, a.id.as_deref()),
        (Verdict::Approved, Some("3f2a9c0d1e4b"))
    );
    assert_eq!(parse_answer(&user("no.")).verdict, Verdict::Denied);
    let a = parse_answer(&user("yes but only on staging"));
    assert_eq!((a.verdict, a.id), (Verdict::Answered, None));
    assert_eq!(a.text, "yes but only on staging");
}

#[test]
fn reads_structured_answers_first() {
    let mut m = user("approve");
    m.metadata = Some(HashMap::from([(
        "approval".to_owned(),
        json!({"decision": "denied", "id": "abc"}),
    )]));
    let a = parse_answer(&m);
    assert_eq!((a.verdict, a.id.as_deref()), (Verdict::Denied, Some("abc")));
    let m = Message::new(
        Role::User,
        vec![Part::data(
            json!({"approval": {"decision": "approve", "id": "x"}}),
        )],
    );
    assert_eq!(parse_answer(&m).verdict, Verdict::Approved);
}

#[test]
fn a_held_call_is_approved_only_by_its_own_id() {
    let pending = tool_pending();
    let own = parse_answer(&user(&format!("approve {}", pending.id)));
    assert_eq!(own.resolve(&pending), Ok(()));
    let bare = parse_answer(&user("approve"));
    assert_eq!(bare.resolve(&pending), Err(Unsettled::NoId));
    let stale = parse_answer(&user("approve 000000000000"));
    assert!(matches!(
        stale.resolve(&pending),
        Err(Unsettled::OtherId(_))
    ));
    // A denial needs no id; a request is settled by a bare answer.
    assert_eq!(parse_answer(&user("deny")).resolve(&pending), Ok(()));
    let request = Pending::new(Asked::Request {
        action: "deploy".into(),
        reason: String::new(),
    });
    assert_eq!(bare.resolve(&request), Ok(()));
    assert!(stale.resolve(&request).is_err());
}

#[test]
fn the_question_is_escaped_capped_and_names_the_id() {
    let pending = Pending::new(Asked::Tool {
        tool: "write_file".into(),
        input: format!("{{\"x\":\"\u{1b}[31m{}\"}}", "y".repeat(5000)),
    });
    let q = pending.question();
    assert!(q.contains("\\u{1b}[31m") && !q.contains('\u{1b}'), "{q}");
    assert!(q.contains(&format!("approve {}", pending.id)));
    assert!(q.chars().count() < SHOWN_CHARS + 200);
    assert_eq!(pending.id.len(), 12);
    assert_ne!(pending.id, tool_pending().id);
}

#[tokio::test]
async fn the_gate_holds_listed_calls_and_lets_others_through() {
    let gate = Gate::new(vec!["write_file".into()]);
    let suspension = Arc::new(Suspension::default());
    assert!(intercept(&gate, &suspension, "read_file", "{}")
        .await
        .is_none());
    let big = "x".repeat(MAX_HELD_INPUT + 1);
    let refused = intercept(&gate, &suspension, "write_file", &big).await;
    assert!(matches!(refused, Some(Err(ToolError::InvalidInput(_)))));
    let bad = intercept(&gate, &suspension, REQUEST_APPROVAL, "{}").await;
    assert!(matches!(bad, Some(Err(ToolError::InvalidInput(_)))));
    let held = {
        let s = suspension.clone();
        tokio::spawn(async move { intercept(&gate, &s, "write_file", "{\"a\":1}").await })
    };
    let pending = suspension.wait().await;
    assert_eq!(
        pending.asked,
        Asked::Tool {
            tool: "write_file".into(),
            input: "{\"a\":1}".into()
        }
    );
    assert!(!held.is_finished(), "a held call never returns");
    held.abort();
}

#[test]
fn boot_refuses_unknown_listed_tools() {
    let gate = Gate::new(vec!["write_file".into(), "wrte_file".into()]);
    let err = gate
        .check(std::path::Path::new("/cfg/config.yaml"), &["write_file"])
        .unwrap_err();
    assert!(
        err.contains("/cfg/config.yaml") && err.contains("approval.tools[1]"),
        "{err}"
    );
    assert!(
        err.contains("; fix the name (") && !err.contains("  "),
        "one space between words: {err}"
    );
    assert!(gate
        .check(std::path::Path::new("c"), &["write_file", "wrte_file"])
        .is_ok());
}

#[test]
fn a_gate_on_one_name_holds_every_alias_of_it() {
    let gate = Gate::new(vec!["recall_memory".into(), "delegate_task_async".into()]);
    for tool in [
        "search_memory",
        "recall_memory",
        "delegate_task",
        "delegate_task_async",
        "check_task_status",
    ] {
        assert!(gate.requires(tool), "{tool} must be gated");
    }
    assert!(!gate.requires("commit_memory"));
    assert!(Gate::new(vec!["search_memory".into()]).requires("recall_memory"));
    assert!(!Gate::new(vec!["search_memory".into()]).requires("delegate_task"));
    let refused = refused_over_mcp("write_file");
    assert!(refused.contains("approval.tools") && refused.contains("refused"));
}
