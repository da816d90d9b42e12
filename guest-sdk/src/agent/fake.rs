//! `FakeHost`: an in-memory, scripted `AgentHost` for native unit tests of agent loops.
//!
//! Model answers are scripted in order (`reply_text`, `reply_tools`, `reply_error`, ...); every
//! request the loop sent, every tool call and every task event is recorded for assertions.
//! Streams are synthesized from the scripted answer: the text split into word-sized deltas,
//! then the tool calls, then `done`.

use super::{AgentHost, ChatEvents};
use crate::llm::{ChatMessage, ChatRequest, ChatResponse, ChatRole, StreamEvent, ToolCall, Usage};
use crate::log::Level;
use crate::memory::Scope;
use crate::types::{Artifact, HostError, Message, TaskState, ToolError, ToolSpec};
use std::cell::RefCell;
use std::collections::VecDeque;

type ToolFn = Box<dyn Fn(&str) -> Result<String, ToolError>>;

/// One thing the loop did through the fake host, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum HostEvent {
    /// `update_status`.
    Status(TaskState, Option<Message>),
    /// `add_artifact`.
    Artifact(Artifact),
    /// `send_message`.
    Message(Message),
    /// `reply`.
    Reply(Message),
    /// `call_tool` (name, input JSON text).
    ToolCall(String, String),
    /// `commit_memory` (content, scope).
    Memory(String, Scope),
    /// `sleep` (milliseconds).
    Sleep(u64),
    /// `set_current_task`.
    CurrentTask(String),
}

/// A scripted, recording [`AgentHost`] for native tests.
#[derive(Default)]
pub struct FakeHost {
    replies: RefCell<VecDeque<Result<ChatResponse, HostError>>>,
    tools: Vec<(ToolSpec, ToolFn)>,
    requests: RefCell<Vec<ChatRequest>>,
    events: RefCell<Vec<HostEvent>>,
    logs: RefCell<Vec<(Level, String)>>,
    memory_error: Option<HostError>,
    events_error: Option<HostError>,
}

impl FakeHost {
    /// A host with no scripted replies and no tools.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scripts the next model answer: plain text, `end_turn`.
    pub fn reply_text(self, text: &str) -> Self {
        self.reply(ChatMessage::assistant(text), "end_turn")
    }

    /// Scripts the next model answer: `text` plus calls `(name, arguments JSON)`, with ids
    /// `call-<n>` numbered across the whole script.
    pub fn reply_tools(self, text: &str, calls: &[(&str, &str)]) -> Self {
        let base = self.replies.borrow().len();
        let tool_calls = calls
            .iter()
            .enumerate()
            .map(|(i, (name, args))| ToolCall {
                id: format!("call-{base}-{i}"),
                name: name.to_string(),
                arguments: args.to_string(),
            })
            .collect();
        let message = ChatMessage {
            tool_calls,
            ..ChatMessage::assistant(text)
        };
        self.reply(message, "tool_use")
    }

    /// Scripts the next model answer with an explicit message and stop reason.
    pub fn reply(self, message: ChatMessage, stop_reason: &str) -> Self {
        let response = ChatResponse {
            message,
            stop_reason: stop_reason.to_string(),
            usage: Usage {
                input_tokens: 10,
                output_tokens: 5,
            },
        };
        self.replies.borrow_mut().push_back(Ok(response));
        self
    }

    /// Scripts the next model call to fail with `err`.
    pub fn reply_error(self, err: HostError) -> Self {
        self.replies.borrow_mut().push_back(Err(err));
        self
    }

    /// Adds a host tool named `name` answering with `handler(input)`.
    pub fn tool(
        mut self,
        name: &str,
        handler: impl Fn(&str) -> Result<String, ToolError> + 'static,
    ) -> Self {
        let spec = ToolSpec {
            name: name.to_string(),
            description: format!("fake tool {name}"),
            input_schema: r#"{"type":"object"}"#.to_string(),
        };
        self.tools.push((spec, Box::new(handler)));
        self
    }

    /// Makes every `commit_memory` fail with `err`.
    pub fn memory_error(mut self, err: HostError) -> Self {
        self.memory_error = Some(err);
        self
    }

    /// Makes every event call (status, artifact, message) fail with `err`.
    pub fn events_error(mut self, err: HostError) -> Self {
        self.events_error = Some(err);
        self
    }

    /// Every model request sent so far.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests.borrow().clone()
    }

    /// Everything the loop did so far, in order.
    pub fn events(&self) -> Vec<HostEvent> {
        self.events.borrow().clone()
    }

    /// Every log record so far.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.logs.borrow().clone()
    }

    /// Scripted replies not consumed yet.
    pub fn remaining_replies(&self) -> usize {
        self.replies.borrow().len()
    }

    /// Every artifact chunk emitted so far.
    pub fn artifacts(&self) -> Vec<Artifact> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                HostEvent::Artifact(a) => Some(a),
                _ => None,
            })
            .collect()
    }

    /// The text of every chunk of artifact `id` concatenated.
    pub fn artifact_text(&self, id: &str) -> String {
        self.artifacts()
            .iter()
            .filter(|a| a.artifact_id == id)
            .flat_map(|a| {
                a.parts
                    .iter()
                    .filter_map(|p| p.as_text())
                    .map(str::to_string)
            })
            .collect()
    }

    /// The last status update, if any.
    pub fn last_status(&self) -> Option<(TaskState, Option<Message>)> {
        self.events().into_iter().rev().find_map(|e| match e {
            HostEvent::Status(state, message) => Some((state, message)),
            _ => None,
        })
    }

    /// The tool calls made so far as `(name, input)`.
    pub fn tool_calls(&self) -> Vec<(String, String)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                HostEvent::ToolCall(name, input) => Some((name, input)),
                _ => None,
            })
            .collect()
    }

    fn next_reply(&self, request: &ChatRequest) -> Result<ChatResponse, HostError> {
        self.requests.borrow_mut().push(request.clone());
        self.replies.borrow_mut().pop_front().unwrap_or_else(|| {
            Err(HostError::Failed(
                "fake host: no scripted reply left".into(),
            ))
        })
    }

    fn record_event(&self, event: HostEvent) -> Result<(), HostError> {
        self.events.borrow_mut().push(event);
        match &self.events_error {
            Some(err) => Err(err.clone()),
            None => Ok(()),
        }
    }
}

/// Splits `text` into deltas of one word each (keeping the whitespace), like a real stream.
fn deltas(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for ch in text.chars() {
        current.push(ch);
        if ch == ' ' || ch == '\n' {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

impl AgentHost for FakeHost {
    fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, HostError> {
        self.next_reply(request)
    }

    fn stream(&self, request: &ChatRequest) -> Result<ChatEvents<'_>, HostError> {
        let response = self.next_reply(request)?;
        debug_assert_eq!(response.message.role, ChatRole::Assistant);
        let mut events: Vec<Result<StreamEvent, HostError>> = deltas(&response.message.content)
            .into_iter()
            .map(|d| Ok(StreamEvent::TextDelta(d)))
            .collect();
        for call in &response.message.tool_calls {
            events.push(Ok(StreamEvent::ToolCall(call.clone())));
        }
        events.push(Ok(StreamEvent::Done(response)));
        Ok(Box::new(events.into_iter()))
    }

    fn list_tools(&self) -> Vec<ToolSpec> {
        self.tools.iter().map(|(spec, _)| spec.clone()).collect()
    }

    fn call_tool(&self, name: &str, input: &str) -> Result<String, ToolError> {
        self.events
            .borrow_mut()
            .push(HostEvent::ToolCall(name.to_string(), input.to_string()));
        match self.tools.iter().find(|(spec, _)| spec.name == name) {
            Some((_, handler)) => handler(input),
            None => Err(ToolError::NotFound(format!("no tool named `{name}`"))),
        }
    }

    fn update_status(&self, state: TaskState, message: Option<&Message>) -> Result<(), HostError> {
        self.record_event(HostEvent::Status(state, message.cloned()))
    }

    fn add_artifact(&self, artifact: &Artifact) -> Result<(), HostError> {
        self.record_event(HostEvent::Artifact(artifact.clone()))
    }

    fn send_message(&self, message: &Message) -> Result<(), HostError> {
        self.record_event(HostEvent::Message(message.clone()))
    }

    fn reply(&self, message: &Message) -> Result<(), HostError> {
        self.record_event(HostEvent::Reply(message.clone()))
    }

    fn commit_memory(&self, content: &str, scope: Scope) -> Result<String, HostError> {
        self.events
            .borrow_mut()
            .push(HostEvent::Memory(content.to_string(), scope));
        match &self.memory_error {
            Some(err) => Err(err.clone()),
            None => Ok(format!("mem-{}", self.events.borrow().len())),
        }
    }

    fn set_current_task(&self, summary: &str) {
        self.events
            .borrow_mut()
            .push(HostEvent::CurrentTask(summary.to_string()));
    }

    fn log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push((level, message.to_string()));
    }

    fn sleep(&self, millis: u64) {
        self.events.borrow_mut().push(HostEvent::Sleep(millis));
    }
}
