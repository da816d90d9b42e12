//! Native unit tests of file-search: the tools run over a temporary directory standing in for
//! the /data preopen (the logic takes the root as a parameter; only `skill()` fixes /data).

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory with a few files: docs/a.md, docs/deep/b.txt, notes.txt, bin.dat.
fn fixture() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let root = std::env::temp_dir().join(format!(
        "file-search-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("docs/deep")).unwrap();
    fs::write(
        root.join("docs/a.md"),
        "# Title\nHello World\nnothing\nhello again\n",
    )
    .unwrap();
    fs::write(root.join("docs/deep/b.txt"), "deep HELLO\n").unwrap();
    fs::write(root.join("notes.txt"), "say hello\n").unwrap();
    fs::write(root.join("bin.dat"), b"hello\0binary").unwrap();
    root
}

fn search(root: &Path, input: serde_json::Value) -> Result<SearchOutput, ToolError> {
    search_in(root, serde_json::from_value(input).unwrap())
}

fn read(root: &Path, path: &str) -> Result<ReadOutput, ToolError> {
    read_in(
        root,
        ReadInput {
            path: path.to_owned(),
        },
    )
}

#[test]
fn finds_lines_case_insensitively_in_order() {
    let root = fixture();
    let out = search(&root, json!({"query": "hello"})).unwrap();
    let got: Vec<(&str, usize)> = out
        .matches
        .iter()
        .map(|m| (m.file.as_str(), m.line))
        .collect();
    assert_eq!(
        got,
        [
            ("docs/a.md", 2),
            ("docs/a.md", 4),
            ("docs/deep/b.txt", 1),
            ("notes.txt", 1)
        ]
    );
    assert_eq!(out.matches[0].text, "Hello World");
    assert!(!out.truncated);
    assert_eq!(
        out.files_searched, 4,
        "bin.dat is opened but skipped as binary"
    );
}

#[test]
fn limits_to_a_subdirectory_and_a_result_count() {
    let root = fixture();
    let out = search(&root, json!({"query": "hello", "path": "docs/deep"})).unwrap();
    assert_eq!(out.matches.len(), 1);
    assert_eq!(out.matches[0].file, "docs/deep/b.txt");
    let out = search(&root, json!({"query": "hello", "max_results": 2})).unwrap();
    assert_eq!(out.matches.len(), 2);
    assert!(out.truncated);
}

#[test]
fn rejects_paths_outside_the_root_and_bad_fields() {
    let root = fixture();
    for input in [
        json!({"query": "x", "path": "../"}),
        json!({"query": "x", "path": "/etc"}),
        json!({"query": " "}),
        json!({"query": "x", "max_results": 0}),
        json!({"query": "x", "path": "notes.txt"}),
    ] {
        match search(&root, input.clone()) {
            Err(ToolError::InvalidInput(t)) => assert!(t.starts_with("field `"), "{t}"),
            other => panic!("{input}: {other:?}"),
        }
    }
    for path in ["../secret", "/etc/passwd", "docs/../../x", "docs"] {
        match read(&root, path) {
            Err(ToolError::InvalidInput(t)) => assert!(t.starts_with("field `path`"), "{t}"),
            other => panic!("{path}: {other:?}"),
        }
    }
}

#[test]
fn reads_files_with_a_cap() {
    let root = fixture();
    let out = read(&root, "docs/a.md").unwrap();
    assert_eq!(out.path, "docs/a.md");
    assert!(out.text.starts_with("# Title\n"));
    assert!(!out.truncated);
    let out = read(&root, "/data/notes.txt").unwrap();
    assert_eq!(out.text, "say hello\n");

    fs::write(
        root.join("big.txt"),
        "a".repeat(MAX_READ_BYTES as usize + 10),
    )
    .unwrap();
    let out = read(&root, "big.txt").unwrap();
    assert_eq!(out.text.len() as u64, MAX_READ_BYTES);
    assert_eq!(out.size, MAX_READ_BYTES + 10);
    assert!(out.truncated);

    match read(&root, "missing.md") {
        Err(ToolError::Failed(t)) => assert!(t.contains("use `search`"), "{t}"),
        other => panic!("{other:?}"),
    }
    match read(&root, "bin.dat") {
        Err(ToolError::Failed(t)) => assert!(t.contains("binary"), "{t}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn long_lines_are_cut_around_the_match() {
    let line = format!("{}needle{}", "a".repeat(1000), "b".repeat(1000));
    let text = excerpt(&line, &line.to_lowercase(), 1000);
    assert!(text.contains("needle"));
    assert!(text.starts_with('…') && text.ends_with('…'));
    assert!(text.chars().count() <= MAX_LINE_CHARS + 2);
}

#[test]
fn describes_two_tools() {
    let names: Vec<String> = skill().describe().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["search", "read"]);
}
