//! The `CliSpec` the CLI-agent tests run programs with: stdin input, a 60 s time limit,
//! 1 MiB of output, the built `molecule-runtime` as the shepherd, task folders under
//! `<root>/cli-tasks`. Included by path (`#[path = "common/cli.rs"]`) by test binaries that
//! need nothing else of `common`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use molecule_config::CliInput;
use molecule_runtime::cli_agent::CliSpec;

/// `program` with `args`, SIGKILL `kill_grace` after SIGTERM, task folders under `root`.
pub fn spec(program: PathBuf, args: Vec<String>, root: &Path, kill_grace: Duration) -> CliSpec {
    CliSpec {
        program,
        args,
        input: CliInput::Stdin,
        env: Vec::new(),
        timeout: Duration::from_secs(60),
        kill_grace,
        max_output: 1 << 20,
        max_concurrent: 4,
        max_waiting: 10,
        max_wait: Duration::from_secs(60),
        work_root: root.join("cli-tasks"),
        argument_separator: true,
        shepherd: PathBuf::from(env!("CARGO_BIN_EXE_molecule-runtime")),
        history_max_bytes: 1 << 16,
    }
}

/// `/bin/sh -c script sh marks`: a shell script with the marks folder as `$1`.
pub fn sh_spec(script: &str, marks: &Path, root: &Path) -> CliSpec {
    let args = vec![
        "-c".into(),
        script.into(),
        "sh".into(),
        marks.display().to_string(),
    ];
    spec(
        PathBuf::from("/bin/sh"),
        args,
        root,
        Duration::from_millis(500),
    )
}
