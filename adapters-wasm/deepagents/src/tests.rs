//! Native tests of the deepagents strategy through the SDK's scripted `FakeHost`.

use super::*;
use molecule_guest_sdk::agent::{test_context, FakeHost};
use molecule_guest_sdk::json;
use molecule_guest_sdk::types::{HostError, Message, Part, TaskState};

fn plain() -> Settings {
    settings(json!({"system_prompt": "Be thorough.", "runtime_config": {"stream": false}})).unwrap()
}

fn final_message(host: &FakeHost) -> Message {
    let (state, message) = host.last_status().unwrap();
    assert_eq!(state, TaskState::Completed);
    message.unwrap()
}

#[test]
fn settings_and_prompt() {
    let s = plain();
    assert!(s.prompt.starts_with("Be thorough."));
    assert!(s.prompt.contains("write_todos"));
    assert_eq!(s.subagents[0].name, "general-purpose");
    let err = settings(json!({"runtime_config": {"subagents": [{"name": "x"}]}})).unwrap_err();
    assert_eq!(
        err,
        "runtime_config.subagents[0]: missing field `description`"
    );
    let s = settings(json!({"runtime_config": {"subagents": [
        {"name": "critic", "description": "reviews", "prompt": "Critique.", "tools": ["search"]}
    ]}}))
    .unwrap();
    assert_eq!(s.subagents.len(), 2);
}

#[test]
fn plans_writes_files_and_persists_state() {
    let host = FakeHost::new()
        .reply_tools(
            "",
            &[(
                "write_todos",
                r#"{"todos":[{"content":"draft","status":"in_progress"}]}"#,
            )],
        )
        .reply_tools(
            "",
            &[("write_file", r#"{"file_path":"/draft.md","content":"v1"}"#)],
        )
        .reply_text("Draft written.");
    run(&host, &plain(), &test_context("write a draft", vec![])).unwrap();
    let requests = host.requests();
    let names: Vec<_> = requests[0].tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "write_todos",
            "ls",
            "read_file",
            "write_file",
            "edit_file",
            "task"
        ]
    );
    let artifacts = host.artifacts();
    let todos = artifacts
        .iter()
        .find(|a| a.name.as_deref() == Some("todos"))
        .unwrap();
    assert!(matches!(&todos.parts[0], Part::Data(d) if d.contains("in_progress")));
    assert!(artifacts.iter().any(|a| a.name.as_deref() == Some("files")));
    let done = final_message(&host);
    assert_eq!(done.text(), "Draft written.");

    // The next task of the context sees the file through its history.
    let history = vec![Message::user_text("write a draft"), done];
    let host = FakeHost::new()
        .reply_tools("", &[("read_file", r#"{"file_path":"/draft.md"}"#)])
        .reply_text("It says v1.");
    run(&host, &plain(), &test_context("what does it say?", history)).unwrap();
    let fed = &host.requests()[1].messages;
    assert_eq!(fed.last().unwrap().content, "     1\tv1");
    // State data parts never reach the model.
    assert!(!fed.iter().any(|m| m.content.contains("molecule/")));
    assert!(final_message(&host)
        .parts
        .iter()
        .any(|p| matches!(p, Part::Data(d) if d.contains("draft.md"))));
}

#[test]
fn subagent_runs_nested_loop_on_shared_fs() {
    let host = FakeHost::new()
        .tool("search", |_| Ok("\"result\"".into()))
        .reply_tools(
            "",
            &[(
                "task",
                r#"{"description":"research X","subagent_type":"general-purpose"}"#,
            )],
        )
        // the sub-agent's turns
        .reply_tools(
            "",
            &[(
                "write_file",
                r#"{"file_path":"/notes.md","content":"X is Y"}"#,
            )],
        )
        .reply_text("Report: X is Y.")
        // back in the main agent
        .reply_text("Final: X is Y.");
    run(&host, &plain(), &test_context("explain X", vec![])).unwrap();
    let requests = host.requests();
    let sub = &requests[1];
    let sub_tools: Vec<_> = sub.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        sub_tools,
        ["search", "ls", "read_file", "write_file", "edit_file"]
    );
    assert_eq!(sub.messages[1].content, "research X");
    let main_after = requests[3].messages.last().unwrap();
    assert_eq!(main_after.content, "Report: X is Y.");
    let done = final_message(&host);
    assert!(done
        .parts
        .iter()
        .any(|p| matches!(p, Part::Data(d) if d.contains("notes.md"))));
}

#[test]
fn robust_to_bad_subagent_errors_and_cancellation() {
    let host = FakeHost::new()
        .reply_tools(
            "",
            &[("task", r#"{"description":"x","subagent_type":"nope"}"#)],
        )
        .reply_text("ok");
    run(&host, &plain(), &test_context("go", vec![])).unwrap();
    let fed = host.requests()[1].messages.last().unwrap().content.clone();
    assert_eq!(
        fed,
        "Error: unknown subagent_type `nope`; available: general-purpose"
    );

    let host = FakeHost::new()
        .reply_tools("", &[("task", r#"{"description":"x"}"#)])
        .reply_error(HostError::Cancelled);
    let err = run(&host, &plain(), &test_context("go", vec![])).unwrap_err();
    assert_eq!(err, AgentError::Cancelled);

    let host = FakeHost::new().reply_text("");
    run(&host, &plain(), &test_context("go", vec![])).unwrap();
    assert_eq!(final_message(&host).text(), "");
}
