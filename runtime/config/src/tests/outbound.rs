//! `platform.outbound` and `MOLECULE_OUTBOUND`: read fail closed, and they must agree.

use super::{error, no_env, parse};
use crate::{outbound_mode, Env, OUTBOUND_VAR};

fn env(value: &str) -> Env {
    Env::from_pairs([(OUTBOUND_VAR, value)])
}

#[test]
fn the_key_and_the_variable_each_turn_it_on_and_must_agree() {
    let on = parse("platform:\n  outbound: true\n");
    assert!(on.errors.is_empty(), "{:#?}", on.errors);
    assert_eq!(on.platform.outbound, Some(true));
    assert_eq!(outbound_mode(&no_env(), &on), Ok(true));
    let none = parse("name: x\n");
    assert_eq!(outbound_mode(&no_env(), &none), Ok(false));
    assert_eq!(outbound_mode(&env("yes"), &none), Ok(true));
    assert_eq!(outbound_mode(&env("1"), &on), Ok(true));
    let clash = outbound_mode(&env("0"), &on).expect_err("disagreement is an error");
    assert!(clash.contains(OUTBOUND_VAR), "{clash}");
    assert!(clash.contains("/cfg/config.yaml"), "{clash}");
    assert!(clash.contains("platform.outbound"), "{clash}");
    let bad = outbound_mode(&env("maybe"), &none).expect_err("not a flag");
    assert!(bad.contains("maybe"), "{bad}");
}

#[test]
fn unusable_values_and_near_misses_are_errors_naming_the_file_and_key() {
    for yaml in [
        "platform:\n  outbound: ~\n",
        "platform:\n  outbound: \"true\"\n",
        "platform:\n  outbound: 1\n",
    ] {
        let c = parse(yaml);
        let e = error(&c, "platform.outbound");
        assert!(e.to_string().contains("config.yaml"), "{e}");
        assert_eq!(c.platform.outbound, None, "{yaml}");
    }
    let near = parse("platform:\n  Outbond: true\n");
    assert!(
        !near.errors.is_empty(),
        "a near miss of outbound is an error"
    );
    let section = parse("platform: true\n");
    error(&section, "platform");
    let top = parse("Platform:\n  outbound: true\n");
    assert!(
        !top.errors.is_empty(),
        "a near miss of the section is an error"
    );
}

#[test]
fn preflight_fails_on_a_clash_and_on_a_relay_without_a_platform() {
    use crate::{preflight, Status};
    let on = parse("platform:\n  outbound: true\n");
    let status = |env: &Env| {
        let report = preflight(env, &on, &[], std::path::Path::new("/cfg"));
        let check = report.checks.iter().find(|c| c.name == "outbound").cloned();
        check.map(|c| (c.status, c.detail))
    };
    let (s, detail) = status(&no_env()).expect("an outbound check");
    assert_eq!(s, Status::Fail);
    assert!(detail.contains("PLATFORM_URL"), "{detail}");
    let platform = Env::from_pairs([("PLATFORM_URL", "http://p"), (OUTBOUND_VAR, "off")]);
    let (s, detail) = status(&platform).expect("an outbound check");
    assert_eq!(s, Status::Fail);
    assert!(detail.contains("platform.outbound"), "{detail}");
    let agree = Env::from_pairs([("PLATFORM_URL", "http://p"), (OUTBOUND_VAR, "on")]);
    assert_eq!(status(&agree).map(|(s, _)| s), Some(Status::Pass));
}
