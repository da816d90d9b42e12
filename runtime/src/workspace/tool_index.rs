//! The tool index of a skills snapshot, built once per snapshot so that no task or call scans
//! the tools: which skill owns each tool name (first loaded keeps it; a clash or a built-in's
//! name is a load problem of the later skill), the sorted specs listed to adapters, and the
//! bounded "no such tool" text.

use std::collections::{BTreeMap, HashSet};

use crate::bindings::ToolSpec;

/// Names the workspace's built-in tools take (with the alias `recall_memory` and the Python
/// ones, `run_skill_script` and `run_code`): a skill tool may not take one, so it can neither
/// be listed twice nor shadow a built-in.
pub const BUILTIN_TOOL_NAMES: [&str; 10] = [
    "commit_memory",
    "search_memory",
    "recall_memory",
    "send_message_to_user",
    "delegate_task",
    "delegate_task_async",
    "check_task_status",
    "run_skill_script",
    "run_code",
    "request_approval",
];

/// Most tool names a "no such tool" error lists.
const LISTED_IN_ERRORS: usize = 20;

/// Maps tool names to the ids of the skills in `offered` (id → its described tools). A name
/// keeps the skill that owned it in `old` while that skill still offers it (a new skill cannot
/// take over a serving tool, and a skill's hot reload keeps its own names); other names go to
/// the first skill by id. A later skill's clashing tool, and a tool named like a built-in, are
/// not indexed and are recorded in `problems` under `<id>/<tool>`, never silently shadowed.
pub(crate) fn index_tools(
    offered: &BTreeMap<&str, &[ToolSpec]>,
    old: &BTreeMap<String, String>,
    problems: &mut BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let names: HashSet<(&str, &str)> = offered
        .iter()
        .flat_map(|(id, specs)| specs.iter().map(move |t| (*id, t.name.as_str())))
        .collect();
    let mut tools: BTreeMap<String, String> = old
        .iter()
        .filter(|(name, id)| !is_builtin(name) && names.contains(&(id.as_str(), name.as_str())))
        .map(|(name, id)| (name.clone(), id.clone()))
        .collect();
    for (id, specs) in offered {
        for spec in *specs {
            let text = match tools.get(&spec.name) {
                Some(owner) if owner == id => continue,
                _ if is_builtin(&spec.name) => format!(
                    "tool `{}` has the name of a built-in tool of the workspace; rename it \
                     (skill `{id}`'s copy is not loaded)",
                    spec.name
                ),
                Some(owner) => format!(
                    "tool `{}` clashes with skill `{owner}`, which also offers it; \
                     rename one of them (skill `{id}`'s copy is not loaded)",
                    spec.name
                ),
                None => {
                    tools.insert(spec.name.clone(), (*id).to_owned());
                    continue;
                }
            };
            tracing::error!(skill = %id, "{text}");
            problems.insert(format!("{id}/{}", spec.name), text);
        }
    }
    tools
}

/// The specs of the tools `tools` gives each skill of `offered`, sorted by name.
pub(crate) fn owned_specs(
    offered: &BTreeMap<&str, &[ToolSpec]>,
    tools: &BTreeMap<String, String>,
) -> Vec<ToolSpec> {
    let mut specs: Vec<ToolSpec> = offered
        .iter()
        .flat_map(|(id, specs)| {
            let owned = move |t: &&ToolSpec| tools.get(&t.name).is_some_and(|o| o == id);
            specs.iter().filter(owned).cloned()
        })
        .collect();
    specs.sort_by(|a, b| a.name.cmp(&b.name));
    specs
}

/// "No tool `name`" (the caller's text, escaped and cut) with the first tools by name.
pub(crate) fn not_found(name: &str, tools: &BTreeMap<String, String>) -> String {
    let known: Vec<&str> = tools
        .keys()
        .take(LISTED_IN_ERRORS)
        .map(String::as_str)
        .collect();
    let more = tools.len() - known.len();
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        "no tool `{}` in this workspace; tools: {}{more}",
        crate::describe::quote_name(name),
        known.join(", ")
    )
}

/// True when `name` is a built-in tool's (see [`BUILTIN_TOOL_NAMES`]).
fn is_builtin(name: &str) -> bool {
    BUILTIN_TOOL_NAMES.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(names: &[&str]) -> Vec<ToolSpec> {
        names
            .iter()
            .map(|n| ToolSpec {
                name: (*n).into(),
                description: String::new(),
                input_schema: "{}".into(),
            })
            .collect()
    }

    #[test]
    fn the_first_owner_keeps_a_name_and_built_ins_are_refused() {
        let (a, z) = (specs(&["ping", "commit_memory"]), specs(&["ping", "zed"]));
        let offered = BTreeMap::from([("z", z.as_slice())]);
        let mut problems = BTreeMap::new();
        let first = index_tools(&offered, &BTreeMap::new(), &mut problems);
        assert_eq!(first["ping"], "z");

        // `a` comes first by id but arrives later: `z` keeps `ping`.
        let offered = BTreeMap::from([("a", a.as_slice()), ("z", z.as_slice())]);
        let mut problems = BTreeMap::new();
        let next = index_tools(&offered, &first, &mut problems);
        assert_eq!(next["ping"], "z");
        assert!(problems["a/ping"].contains("clashes with skill `z`"));
        assert!(problems["a/commit_memory"].contains("built-in"));
        assert!(!next.contains_key("commit_memory"));
        let listed = owned_specs(&offered, &next);
        let names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["ping", "zed"]);
    }

    #[test]
    fn not_found_is_bounded_and_escaped() {
        let tools: BTreeMap<String, String> =
            (0..100).map(|i| (format!("t{i:03}"), "s".into())).collect();
        let text = not_found(&format!("x\n{}", "y".repeat(10_000)), &tools);
        assert!(text.len() < 1_000, "{}", text.len());
        assert!(
            text.contains("x\\n") && text.ends_with("and 80 more"),
            "{text}"
        );
    }
}
