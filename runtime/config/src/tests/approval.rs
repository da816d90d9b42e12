//! `approval`: the tools that need a human's approval, a security section that fails closed.

use super::{error, parse};

#[test]
fn lists_the_gated_tools() {
    let config = parse("approval:\n  tools: [write_file, delegate_task, write_file]\n");
    assert!(config.errors.is_empty(), "{:#?}", config.errors);
    assert_eq!(config.approval.tools, ["write_file", "delegate_task"]);
    assert!(config.approval.requires("write_file"));
    assert!(!config.approval.requires("read_file"));
    assert!(parse("name: x\n").approval.tools.is_empty());
}

#[test]
fn bad_values_are_errors_naming_the_key() {
    let cases = [
        ("approval: [write_file]\n", "approval"),
        ("approval:\n  tools: write_file\n", "approval.tools"),
        ("approval:\n  tools: ~\n", "approval.tools"),
        ("approval:\n  tools: [write_file, 3]\n", "approval.tools[1]"),
        ("approval:\n  tools: [\"\"]\n", "approval.tools[0]"),
        ("approval:\n  tools: [\"a b\"]\n", "approval.tools[0]"),
        ("approval:\n  tool: [write_file]\n", "approval.tool"),
        ("approval:\n  Tools: [write_file]\n", "approval.Tools"),
        ("Approval:\n  tools: [write_file]\n", "Approval"),
    ];
    for (yaml, key) in cases {
        let config = parse(yaml);
        let e = error(&config, key);
        assert!(e.to_string().contains("config.yaml"), "{yaml}: {e}");
    }
    // A bad item does not drop the good ones: they stay gated.
    let config = parse("approval:\n  tools: [write_file, 3]\n");
    assert_eq!(config.approval.tools, ["write_file"]);
}
