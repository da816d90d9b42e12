//! What this build is: the runtime's version and the WIT package (`molecule:runtime@x.y.z`)
//! its host bindings were generated from, for `inspect` and reports.

/// The WIT file holding the `package` line, embedded at build time (the same folder the
/// bindings are generated from).
const WORLDS_WIT: &str = include_str!("../../wit/worlds.wit");

/// The runtime's version (`CARGO_PKG_VERSION`, semver).
pub const RUNTIME_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The WIT package this build implements, as declared in `wit/worlds.wit`
/// (`molecule:runtime@0.1.0`); `unknown` if the line is missing.
pub fn wit_package() -> &'static str {
    package_of(WORLDS_WIT).unwrap_or("unknown")
}

/// The `package <name>;` of a WIT text.
fn package_of(wit: &str) -> Option<&str> {
    wit.lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix("package "))
        .map(|rest| rest.trim_end_matches(';').trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wit_package_is_read_from_the_worlds_file() {
        assert!(
            wit_package().starts_with("molecule:runtime@"),
            "{}",
            wit_package()
        );
        assert_eq!(package_of("// x\npackage a:b@1.2.3;\n"), Some("a:b@1.2.3"));
        assert_eq!(package_of("world w {}"), None);
    }
}
