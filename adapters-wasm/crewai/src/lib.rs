//! molecule-runtime adapter "crewai": a CrewAI-style sequential crew as a WebAssembly
//! component. Agents (role, goal, backstory) and tasks (description, expected_output, agent)
//! come from `runtime_config`; the tasks run in order, each as a tool loop of its agent, and
//! each task's output is the context of the next. The last task's output is the answer.
//! Without configured tasks the crew is one task — the user's request — done by one agent
//! built from the workspace (role/name, description).

mod crew;

pub use crew::{AgentSpec, Crew, TaskSpec};

use molecule_guest_sdk::adapter::RequestContext;
use molecule_guest_sdk::agent::{
    begin, best_effort, finish, run_tool_loop, transcript, with_decisions, AgentConfig, AgentError,
    AgentHost, LoopOptions, NoLocalTools,
};
use molecule_guest_sdk::llm::ChatMessage;
use molecule_guest_sdk::serde_json::Value;
use molecule_guest_sdk::types::Artifact;

/// Reads the configuration: the crew (agents, tasks, loop settings) from `runtime_config`.
pub fn settings(config: Value) -> Result<Crew, String> {
    Crew::from_config(&AgentConfig::from_value(config)?)
}

/// Runs one task: every crew task in order, then completion with the last output.
pub fn run(host: &dyn AgentHost, crew: &Crew, context: &RequestContext) -> Result<(), AgentError> {
    begin(host, "crewai", context);
    let request = context.message.text();
    let earlier = transcript(&context.history, None);
    let mut previous = String::new();
    let total = crew.tasks.len();
    for (index, task) in crew.tasks.iter().enumerate() {
        let agent = crew.agent_for(task);
        host.set_current_task(&format!(
            "crewai task {}/{total}: {}",
            index + 1,
            agent.role
        ));
        // The host's approval decisions go to the system message, where no client text can
        // imitate them (`conversation::with_decisions`).
        let system = with_decisions(
            &crew.agent_prompt(agent),
            context
                .history
                .iter()
                .chain(std::iter::once(&context.message)),
        );
        let prompt = crew::task_prompt(task, &request, &earlier, &previous);
        let options = LoopOptions {
            max_turns: agent.max_iter.unwrap_or(crew.options.max_turns).max(1),
            allow_tools: agent.tools.clone().unwrap_or_default(),
            host_tools: agent.tools.as_ref().is_none_or(|t| !t.is_empty()),
            ..crew.options.clone()
        };
        let messages = vec![ChatMessage::system(system), ChatMessage::user(prompt)];
        let outcome = run_tool_loop(host, messages, &options, &mut NoLocalTools)?;
        // At the turn limit the agent's last words are still the best output there is.
        previous = outcome.text;
        if crew.task_artifacts && index + 1 < total {
            let name = format!("task {}: {}", index + 1, task.label(index));
            let artifact = Artifact::text(Some(&name), previous.clone());
            best_effort(host, "events.add-artifact", host.add_artifact(&artifact))?;
        }
    }
    finish(host, context, &previous, None)
}

/// The exported adapter.
pub struct CrewAi;

molecule_guest_sdk::export_adapter!(CrewAi {
    name: "crewai",
    settings: Crew = settings,
    run: run,
});

#[cfg(test)]
mod tests;
