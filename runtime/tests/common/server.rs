//! Starting the real binary in the integration tests: `molecule-runtime run` on a free port of
//! 127.0.0.1 with the shared build cache, no platform and no inbound secret, and reading the
//! port it announces. Not every test binary uses every helper.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{cache_dir, repo};

/// `molecule-runtime run --config-dir <config_dir> --port 0 --bind 127.0.0.1` with the data dir
/// `data_dir`, stderr piped, and none of the environment that would join a platform or
/// require a bearer.
pub fn run_command(config_dir: &Path, data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_molecule-runtime"));
    cmd.current_dir(repo())
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .env("MOLECULE_DATA_DIR", data_dir)
        .env_remove("PLATFORM_URL")
        .env_remove("WORKSPACE_CONFIG_PATH")
        .env_remove("MOLECULE_INBOUND_SECRET")
        .args(["run", "--config-dir", config_dir.to_str().unwrap()])
        .args(["--port", "0", "--bind", "127.0.0.1"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    cmd
}

/// Kills the server when the test ends, however it ends.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the workspace in `dir` (data under `dir/data`) and returns it with its port, once
/// announced; stderr keeps being read so the server never writes to a closed pipe.
pub fn start(dir: &Path) -> (Server, u16) {
    start_command(run_command(dir, &dir.join("data")))
}

/// [`start`] with extra environment variables (e.g. `MOLECULE_INBOUND_SECRET`).
pub fn start_with(dir: &Path, env: &[(&str, &str)]) -> (Server, u16) {
    let mut cmd = run_command(dir, &dir.join("data"));
    cmd.envs(env.iter().copied());
    start_command(cmd)
}

/// Spawns `cmd` (a [`run_command`], possibly with more environment) and returns it with its
/// port, once announced; stderr keeps being read so the server never writes to a closed pipe.
pub fn start_command(mut cmd: Command) -> (Server, u16) {
    let mut child = cmd.spawn().expect("running molecule-runtime run");
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut seen = Vec::new();
    let mut lines = BufReader::new(stderr).lines();
    while let Some(Ok(line)) = lines.next() {
        if let Some(rest) = line.split(" serving A2A on port ").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            std::thread::spawn(move || lines.for_each(drop));
            return (server, digits.parse().unwrap());
        }
        seen.push(line);
        assert!(Instant::now() < deadline, "no port: {}", seen.join("\n"));
    }
    panic!("no port announced; stderr: {}", seen.join("\n"));
}
