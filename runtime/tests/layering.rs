//! The layering rule of ARCHITECTURE.md, checked: in every crate of the workspace, no module
//! imports another module that imports it back (file level, through `crate::`, `super::` and
//! `self::` paths, grouped imports included; comments and `#[cfg(test)] mod tests` blocks
//! are not counted). A failure names each group of modules that import each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The `src/` folders checked.
const CRATES: [&str; 8] = [
    "runtime/src",
    "runtime/a2a/src",
    "runtime/config/src",
    "runtime/llm/src",
    "runtime/egress/src",
    "runtime/platform/src",
    "runtime/packages/src",
    "guest-sdk/src",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Every `.rs` file under `dir` as (module path like `a::b`, file).
fn modules(root: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let rel = path.strip_prefix(root).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                out.insert(parts.join("::"), path);
            }
        }
    }
    out
}

/// The code of a file without comments and without its `#[cfg(test)] mod tests` block.
fn code(text: &str) -> String {
    let text = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path that starts with `crate`, `super` or `self` in `code`, as segment lists; a
/// grouped import `a::{b, c}` gives `a::b` and `a::c`.
fn paths(code: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !is_ident(chars[i - 1]);
        let word: String = chars[i..].iter().take_while(|c| is_ident(**c)).collect();
        if !starts_word || word.is_empty() {
            i += 1;
            continue;
        }
        if !matches!(word.as_str(), "crate" | "super" | "self") {
            i += word.len();
            continue;
        }
        let mut segments = vec![word.clone()];
        let mut j = i + word.len();
        loop {
            if chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':') {
                j += 2;
                if chars.get(j) == Some(&'{') {
                    let end = chars[j..]
                        .iter()
                        .position(|c| *c == '}')
                        .map_or(chars.len(), |p| j + p);
                    let group: String = chars[j + 1..end].iter().collect();
                    for item in group.split(',') {
                        let first: String =
                            item.trim().chars().take_while(|c| is_ident(*c)).collect();
                        if !first.is_empty() {
                            let mut path = segments.clone();
                            path.push(first);
                            out.push(path);
                        }
                    }
                    out.push(segments.clone());
                    segments.clear();
                    j = end;
                    break;
                }
                let next: String = chars[j..].iter().take_while(|c| is_ident(**c)).collect();
                if next.is_empty() {
                    break;
                }
                j += next.len();
                segments.push(next);
            } else {
                break;
            }
        }
        if segments.len() > 1 {
            out.push(segments);
        }
        i = j.max(i + 1);
    }
    out
}

/// The module a path from module `from` refers to: its longest prefix that is a module.
fn resolve(from: &str, path: &[String], known: &BTreeMap<String, PathBuf>) -> Option<String> {
    let mut base: Vec<&str> = if from.is_empty() {
        Vec::new()
    } else {
        from.split("::").collect()
    };
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &path[1..];
        }
        Some("self") => rest = &path[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    (0..=rest.len()).rev().find_map(|n| {
        let mut parts: Vec<&str> = base.clone();
        parts.extend(rest[..n].iter().map(String::as_str));
        let name = parts.join("::");
        known.contains_key(&name).then_some(name)
    })
}

/// Groups of modules that import each other (strongly connected components of size > 1).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Kosaraju: order by finish time, then walk the reversed graph.
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    for start in edges.keys() {
        let mut stack = vec![(start.clone(), false)];
        while let Some((node, done)) = stack.pop() {
            if done {
                order.push(node);
                continue;
            }
            if !seen.insert(node.clone()) {
                continue;
            }
            stack.push((node.clone(), true));
            for next in &edges[&node] {
                if !seen.contains(next) {
                    stack.push((next.clone(), false));
                }
            }
        }
    }
    let mut reverse: BTreeMap<&String, Vec<&String>> = BTreeMap::new();
    for (from, tos) in edges {
        for to in tos {
            reverse.entry(to).or_default().push(from);
        }
    }
    let mut assigned = BTreeSet::new();
    let mut groups = Vec::new();
    for node in order.iter().rev() {
        if assigned.contains(node) {
            continue;
        }
        let mut group = Vec::new();
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            if !assigned.insert(n.clone()) {
                continue;
            }
            group.push(n.clone());
            for prev in reverse.get(n).into_iter().flatten() {
                if !assigned.contains(*prev) {
                    stack.push(prev);
                }
            }
        }
        if group.len() > 1 {
            group.sort();
            groups.push(group);
        }
    }
    groups
}

fn import_graph(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let known = modules(root);
    let mut edges: BTreeMap<String, BTreeSet<String>> =
        known.keys().map(|k| (k.clone(), BTreeSet::new())).collect();
    for (module, file) in &known {
        let text = std::fs::read_to_string(file).unwrap();
        for path in paths(&code(&text)) {
            if let Some(target) = resolve(module, &path, &known) {
                // A module may use its own children (it declares them); anything else counts.
                let own_child = target.starts_with(&format!("{module}::")) || module.is_empty();
                if target != *module && !own_child {
                    edges.get_mut(module).unwrap().insert(target);
                }
            }
        }
    }
    edges
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let mut found = Vec::new();
    for krate in CRATES {
        for group in cycles(&import_graph(&repo().join(krate))) {
            found.push(format!("{krate}: {}", group.join(" <-> ")));
        }
    }
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle_through_a_grouped_import() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    std::fs::write(dir.path().join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(dir.path().join("a/mod.rs"), "mod c;\nuse crate::b::B;\n").unwrap();
    std::fs::write(dir.path().join("a/c.rs"), "pub struct C;\n").unwrap();
    std::fs::write(
        dir.path().join("b.rs"),
        "// use crate::a::C; in a comment does not count\nuse crate::{a::c::C, x};\npub struct B;\n",
    )
    .unwrap();
    let groups = cycles(&import_graph(dir.path()));
    assert_eq!(
        groups,
        [["a", "b"]],
        "a -> b by a path, b -> a by a grouped import"
    );
    std::fs::write(dir.path().join("b.rs"), "pub struct B;\n").unwrap();
    assert!(cycles(&import_graph(dir.path())).is_empty());
}
