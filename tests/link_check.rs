//! The link check lists every import the host does not satisfy, with the reason, before
//! anything runs; components that link get no complaints.

use molecule_tests::{guest_wasm, host};

#[test]
fn real_components_link_cleanly() {
    let host = host();
    for rel in [
        "demo/skills/json-query",
        "demo/skills/notes",
        "tests/guests/hostile",
    ] {
        let (component, _) = host.compile(&guest_wasm(rel), rel).unwrap();
        let problems = host.link_check(&component);
        assert!(problems.is_empty(), "{rel}: {problems:?}");
    }
}

#[test]
fn every_unsatisfied_import_is_listed() {
    let wat = r#"
        (component
            (import "acme:missing/thing@1.0.0" (instance
                (export "poke" (func))))
            (import "molecule:runtime/config@0.1.0" (instance
                (export "get" (func (param "key" string) (result string)))))
            (import "acme:missing/other@2.0.0" (instance
                (export "nudge" (func (param "n" u32)))))
        )
    "#;
    let wasm = wat::parse_str(wat).unwrap();
    let host = host();
    let (component, _) = host.compile(&wasm, "wat").unwrap();
    let problems = host.link_check(&component);
    let names: Vec<&str> = problems.iter().map(|p| p.import.as_str()).collect();
    assert_eq!(
        names,
        [
            "acme:missing/thing@1.0.0",
            "molecule:runtime/config@0.1.0",
            "acme:missing/other@2.0.0"
        ],
        "{problems:?}"
    );
    assert!(problems[0].reason.contains("not provided"), "{problems:?}");
    assert!(problems[0].reason.contains("poke"), "{problems:?}");
    assert!(problems[1].reason.contains("shape differs"), "{problems:?}");
}
