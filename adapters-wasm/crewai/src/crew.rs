//! The crew: agents and tasks read from `runtime_config`, validated at setup (every task's
//! `agent` must name a configured agent by name or role), plus the CrewAI-style prompts of an
//! agent (role, backstory, goal) and of a task (description, expected output, context).

use molecule_guest_sdk::agent::{AgentConfig, LoopOptions, RuntimeConfig};
use serde::Deserialize;
use serde_json::Value;

/// Model turns per task when neither the agent's `max_iter` nor `runtime_config.max_iter` is
/// set.
pub const DEFAULT_MAX_ITER: u32 = 15;

/// One crew member.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AgentSpec {
    /// Key tasks refer to; defaults to the role (or the key, when `agents` is a map).
    #[serde(default)]
    pub name: Option<String>,
    /// Its role, e.g. `Senior Researcher`.
    pub role: String,
    /// What it tries to achieve.
    pub goal: String,
    /// Its background, shaping how it works.
    #[serde(default)]
    pub backstory: String,
    /// Host tools it may use: absent = all, empty = none.
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    /// Most model turns per task.
    #[serde(default)]
    pub max_iter: Option<u32>,
}

/// One step of the crew.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TaskSpec {
    /// Optional label.
    #[serde(default)]
    pub name: Option<String>,
    /// What to do; `{input}` (or `{request}`) is replaced by the user's message.
    pub description: String,
    /// What the result must look like.
    #[serde(default)]
    pub expected_output: String,
    /// The agent (name or role) that performs it; the first agent when absent.
    #[serde(default)]
    pub agent: Option<String>,
    /// Index of the resolved agent.
    #[serde(skip)]
    pub agent_index: usize,
}

impl TaskSpec {
    /// The task's label: its name or its description's first line, shortened.
    pub fn label(&self, index: usize) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => {
                let first = self.description.lines().next().unwrap_or("").trim();
                let short: String = first.chars().take(40).collect();
                if short.is_empty() {
                    format!("task {}", index + 1)
                } else {
                    short
                }
            }
        }
    }
}

/// The crew as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Crew {
    /// The workspace's system prompt, put before each agent's persona.
    pub system_prompt: String,
    /// The agents.
    pub agents: Vec<AgentSpec>,
    /// The tasks, in order, with resolved agents.
    pub tasks: Vec<TaskSpec>,
    /// Loop settings shared by every task.
    pub options: LoopOptions,
    /// Emit each intermediate task output as an artifact.
    pub task_artifacts: bool,
}

/// `agents` as a list; a map `{key: {role, …}}` becomes a list with `name = key`.
fn agents_value(value: Option<&Value>) -> Option<Value> {
    match value? {
        Value::Object(map) => Some(Value::Array(
            map.iter()
                .map(|(key, spec)| {
                    let mut spec = spec.clone();
                    if let Value::Object(obj) = &mut spec {
                        obj.entry("name")
                            .or_insert_with(|| Value::String(key.clone()));
                    }
                    spec
                })
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

impl Crew {
    /// Reads and validates the crew from the configuration.
    pub fn from_config(config: &AgentConfig) -> Result<Self, String> {
        let rc = &config.runtime_config;
        let mut agents_rc = RuntimeConfig::default();
        if let Some(agents) = agents_value(rc.get("agents")) {
            agents_rc.0.insert("agents".into(), agents);
        }
        let mut agents: Vec<AgentSpec> = agents_rc.parse("agents")?.unwrap_or_default();
        if agents.is_empty() {
            agents.push(default_agent(config));
        }
        let mut tasks: Vec<TaskSpec> = rc.parse("tasks")?.unwrap_or_default();
        if tasks.is_empty() {
            tasks.push(TaskSpec {
                name: Some("request".into()),
                description: "{input}".into(),
                expected_output: "A complete, direct answer to the request.".into(),
                agent: None,
                agent_index: 0,
            });
        }
        for (i, task) in tasks.iter_mut().enumerate() {
            if task.description.trim().is_empty() {
                return Err(format!(
                    "runtime_config.tasks[{i}].description: must not be empty"
                ));
            }
            if let Some(wanted) = &task.agent {
                task.agent_index = find_agent(&agents, wanted).ok_or_else(|| {
                    let known: Vec<_> = agents.iter().map(agent_key).collect();
                    format!(
                        "runtime_config.tasks[{i}].agent: no agent named `{wanted}` (agents: {})",
                        known.join(", ")
                    )
                })?;
            }
        }
        Ok(Crew {
            system_prompt: config.system_prompt.clone(),
            agents,
            tasks,
            options: LoopOptions {
                max_turns: rc.u32_or("max_iter", DEFAULT_MAX_ITER)?.max(1),
                temperature: rc.f32("temperature")?,
                max_tokens: rc.u32("max_tokens")?,
                ..LoopOptions::default()
            },
            task_artifacts: rc.bool_or("task_artifacts", true)?,
        })
    }

    /// The agent that performs `task`.
    pub fn agent_for(&self, task: &TaskSpec) -> &AgentSpec {
        &self.agents[task.agent_index]
    }

    /// The system prompt of `agent`: the workspace's prompt, then its persona.
    pub fn agent_prompt(&self, agent: &AgentSpec) -> String {
        let mut persona = format!("You are {}.", agent.role);
        if !agent.backstory.trim().is_empty() {
            persona.push(' ');
            persona.push_str(agent.backstory.trim());
        }
        persona.push_str(&format!("\nYour personal goal is: {}", agent.goal));
        if self.system_prompt.trim().is_empty() {
            persona
        } else {
            format!("{}\n\n{persona}", self.system_prompt.trim())
        }
    }
}

fn agent_key(agent: &AgentSpec) -> String {
    agent.name.clone().unwrap_or_else(|| agent.role.clone())
}

fn find_agent(agents: &[AgentSpec], wanted: &str) -> Option<usize> {
    let wanted = wanted.trim();
    agents.iter().position(|a| {
        a.name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(wanted))
            || a.role.eq_ignore_ascii_case(wanted)
    })
}

fn default_agent(config: &AgentConfig) -> AgentSpec {
    let role = [&config.role, &config.name]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| "Assistant".to_string());
    let goal = if config.description.trim().is_empty() {
        "Complete the user's request accurately and completely.".to_string()
    } else {
        config.description.clone()
    };
    AgentSpec {
        name: Some("default".into()),
        role,
        goal,
        backstory: String::new(),
        tools: None,
        max_iter: None,
    }
}

/// The user prompt of one task: the description (with `{input}` replaced by the request),
/// the request itself when not interpolated, the expected output, the earlier conversation
/// and the previous task's output as context.
pub fn task_prompt(task: &TaskSpec, request: &str, earlier: &str, previous: &str) -> String {
    let interpolates =
        task.description.contains("{input}") || task.description.contains("{request}");
    let description = task
        .description
        .replace("{input}", request)
        .replace("{request}", request);
    let mut prompt = format!("Current Task: {description}");
    if !interpolates && !request.trim().is_empty() {
        prompt.push_str(&format!("\n\nThe user's request:\n{request}"));
    }
    if !task.expected_output.trim().is_empty() {
        prompt.push_str(&format!(
            "\n\nThis is the expected criteria for your final answer: {}\nYou MUST return the \
             actual complete content as the final answer, not a summary.",
            task.expected_output.trim()
        ));
    }
    if !earlier.trim().is_empty() {
        prompt.push_str(&format!("\n\nThe conversation so far:\n{earlier}"));
    }
    if !previous.trim().is_empty() {
        prompt.push_str(&format!(
            "\n\nThis is the context you're working with:\n{previous}"
        ));
    }
    prompt.push_str(
        "\n\nBegin! Use the tools available when they help, and give your best final answer.",
    );
    prompt
}
