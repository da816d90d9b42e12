//! The link check: every import of a component that this host does not satisfy, with the
//! reason, found before anything runs (the wasm analogue of Python's ImportError).

use std::fmt;

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceType};
use wasmtime::Engine;

use crate::state::HostState;

/// One import the host cannot satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkProblem {
    /// The import's name, e.g. `wasi:http/outgoing-handler@0.2.0`.
    pub import: String,
    /// Why it does not link: missing, or a shape different from the host's.
    pub reason: String,
}

impl fmt::Display for LinkProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "import `{}`: {}", self.import, self.reason)
    }
}

/// Lists every import of `component` that `linker` does not satisfy; empty means it links.
///
/// Works on a copy of the linker: each problem found is stubbed out there so the next
/// type-check can report the following one.
pub fn unsatisfied_imports(
    linker: &Linker<HostState>,
    engine: &Engine,
    component: &Component,
) -> Vec<LinkProblem> {
    let mut scratch = linker.clone();
    scratch.allow_shadowing(true);
    let ty = component.component_type();
    let mut problems: Vec<LinkProblem> = Vec::new();
    let max_rounds = ty.imports(engine).len() + 1;
    for _ in 0..max_rounds {
        let err = match scratch.substituted_component_type(component) {
            Ok(_) => break,
            Err(err) => err,
        };
        let Some(import) = import_name(&err.to_string()) else {
            problems.push(LinkProblem {
                import: "?".into(),
                reason: format!("{err:#}"),
            });
            break;
        };
        let reason = describe(&err);
        let stubbed = match ty.get_import(engine, &import) {
            Some(item) => stub(&mut scratch, engine, &import, &item.ty).is_ok(),
            None => false,
        };
        let repeated = problems.iter().any(|p| p.import == import);
        if !repeated {
            problems.push(LinkProblem { import, reason });
        }
        if !stubbed || repeated {
            break;
        }
    }
    problems
}

/// Pulls the import name out of wasmtime's "component imports instance `NAME`, but ..."
fn import_name(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

/// The underlying reason, phrased for a skill author.
fn describe(err: &wasmtime::Error) -> String {
    let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
    let missing = causes
        .iter()
        .any(|c| c.contains("implementation is missing") || c.contains("was not found"));
    if causes.is_empty() || missing {
        let item = causes.first().and_then(|c| import_name(c));
        return match item {
            Some(item) => format!("not provided by this host (no `{item}`)"),
            None => "not provided by this host".into(),
        };
    }
    format!("its shape differs from the host's: {}", causes.join(": "))
}

/// A resource type standing in for imports the host lacks, during the check only.
struct Stub;

fn stub(
    linker: &mut Linker<HostState>,
    engine: &Engine,
    name: &str,
    item: &ComponentItem,
) -> wasmtime::Result<()> {
    match item {
        ComponentItem::ComponentFunc(_) => linker.root().func_new(name, |_, _, _, _| {
            wasmtime::bail!("stub used only by the link check")
        }),
        ComponentItem::ComponentInstance(instance) => {
            let mut inst = linker.instance(name)?;
            for (export, item) in instance.exports(engine) {
                match item.ty {
                    ComponentItem::ComponentFunc(_) => inst.func_new(export, |_, _, _, _| {
                        wasmtime::bail!("stub used only by the link check")
                    })?,
                    ComponentItem::Resource(_) => {
                        inst.resource(export, ResourceType::host::<Stub>(), |_, _| Ok(()))?
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        ComponentItem::Resource(_) => {
            linker
                .root()
                .resource(name, ResourceType::host::<Stub>(), |_, _| Ok(()))
        }
        _ => wasmtime::bail!("cannot stub import `{name}`"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn extracts_import_name() {
        let msg = "component imports instance `wasi:http/types@0.2.0`, but a matching \
                   implementation was not found in the linker";
        assert_eq!(
            super::import_name(msg).as_deref(),
            Some("wasi:http/types@0.2.0")
        );
        assert_eq!(super::import_name("no names here"), None);
    }
}
