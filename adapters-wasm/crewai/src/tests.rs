//! Native tests of the crewai strategy through the SDK's scripted `FakeHost`.

use super::*;
use molecule_guest_sdk::agent::{test_context, FakeHost};
use molecule_guest_sdk::json;
use molecule_guest_sdk::llm::ChatRole;
use molecule_guest_sdk::types::{HostError, Message, TaskState};

fn crew(config: Value) -> Result<Crew, String> {
    Crew::from_config(&AgentConfig::from_value(config)?)
}

fn research_crew() -> Crew {
    crew(json!({
        "system_prompt": "Workspace rules.",
        "runtime_config": {
            "agents": {
                "researcher": {"role": "Senior Researcher", "goal": "Find facts",
                               "backstory": "You dig deep.", "tools": ["search"]},
                "writer": {"role": "Writer", "goal": "Write clearly", "tools": []}
            },
            "tasks": [
                {"description": "Research {input}", "expected_output": "Bullet facts",
                 "agent": "researcher"},
                {"description": "Write a paragraph", "expected_output": "One paragraph",
                 "agent": "Writer"}
            ]
        }
    }))
    .unwrap()
}

#[test]
fn reads_and_validates_config() {
    let c = research_crew();
    assert_eq!(c.agents.len(), 2);
    assert_eq!(c.tasks[1].agent_index, 1);
    let err = crew(json!({"runtime_config": {
        "agents": [{"name": "a", "role": "A", "goal": "g"}],
        "tasks": [{"description": "x", "agent": "b"}]
    }}))
    .unwrap_err();
    assert_eq!(
        err,
        "runtime_config.tasks[0].agent: no agent named `b` (agents: a)"
    );
    let err = crew(json!({"runtime_config": {"agents": [{"role": "A"}]}})).unwrap_err();
    assert_eq!(err, "runtime_config.agents[0]: missing field `goal`");
    let c = crew(json!({"name": "Helper", "description": "Helps"})).unwrap();
    assert_eq!(
        (c.agents[0].role.as_str(), c.agents[0].goal.as_str()),
        ("Helper", "Helps")
    );
    assert_eq!(c.tasks[0].description, "{input}");
}

#[test]
fn sequential_tasks_feed_outputs_forward() {
    let host = FakeHost::new()
        .tool("search", |_| Ok("\"wasm is fast\"".into()))
        .tool("other", |_| Ok("{}".into()))
        .reply_tools("", &[("search", r#"{"q":"wasm"}"#)])
        .reply_text("- wasm is fast")
        .reply_text("WebAssembly is fast.");
    let history = vec![Message::user_text("hi"), Message::agent_text("hello")];
    run(&host, &research_crew(), &test_context("wasm", history)).unwrap();
    let requests = host.requests();
    // Task 1: the researcher's persona, interpolated description, only its tools.
    let first = &requests[0];
    assert_eq!(first.messages[0].role, ChatRole::System);
    assert_eq!(
        first.messages[0].content,
        "Workspace rules.\n\nYou are Senior Researcher. You dig deep.\nYour personal goal is: Find facts"
    );
    assert!(first.messages[1]
        .content
        .starts_with("Current Task: Research wasm\n\n"));
    assert!(first.messages[1]
        .content
        .contains("User: hi\n\nAssistant: hello"));
    assert_eq!(first.tools.len(), 1);
    // Task 2: the writer gets task 1's output as context and no tools.
    let second = &requests[2];
    assert!(second.messages[1]
        .content
        .contains("The user's request:\nwasm"));
    assert!(second.messages[1]
        .content
        .contains("This is the context you're working with:\n- wasm is fast"));
    assert!(second.tools.is_empty());
    let intermediate = host
        .artifacts()
        .into_iter()
        .find(|a| a.name.as_deref() == Some("task 1: Research {input}"));
    assert!(intermediate.is_some());
    let (state, message) = host.last_status().unwrap();
    assert_eq!(state, TaskState::Completed);
    assert_eq!(message.unwrap().text(), "WebAssembly is fast.");
}

#[test]
fn default_crew_and_errors() {
    let c = crew(json!({})).unwrap();
    let host = FakeHost::new().reply_text("answer");
    run(&host, &c, &test_context("question?", vec![])).unwrap();
    let prompt = &host.requests()[0].messages[1].content;
    assert!(prompt.starts_with("Current Task: question?\n\nThis is the expected criteria"));
    assert_eq!(host.last_status().unwrap().1.unwrap().text(), "answer");

    let host = FakeHost::new()
        .reply_text("step one")
        .reply_error(HostError::Failed("model gone".into()));
    let err = run(&host, &research_crew(), &test_context("x", vec![])).unwrap_err();
    assert_eq!(err.to_string(), "model call: failed: model gone");
    assert!(host.last_status().is_none());
}
