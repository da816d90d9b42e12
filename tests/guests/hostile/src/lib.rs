//! hostile: a skill component whose tools misbehave on purpose, for the runtime's sandbox tests.
//!
//! Each tool exercises one limit or isolation property of the host: `spin` (CPU / epoch
//! deadline), `alloc_bomb` (memory limit), `recurse` (stack), `panic` and `trap` (guest faults
//! surface as errors, never crash the host), `big_output` (output size bound), `read_env`,
//! `read_file`, `list_dir` and `print` (WASI env/fs/stdio isolation), `residue` (nothing a
//! call leaves in linear memory is visible to the next call), `use_memory`, `use_config`
//! and `use_llm` (capability denial is visible as `denied`), `sleep_ms` (wall-clock bound while
//! blocked in WASI). `echo` is the well-behaved control. `budget_bombs.rs` adds tools that
//! flood each budgeted channel (log, stdout, wedged reports, memory, HTTP, events, artifacts). The loops and recursion go through
//! `black_box` so the optimiser cannot remove or flatten them.

//! The `hostile` skill: tools that attack the sandbox, for integration tests.

use molecule_guest_sdk::llm::{self, ChatMessage, ChatRequest};
use molecule_guest_sdk::memory::{self, Scope};
use molecule_guest_sdk::{config, export_skill, json, parse_input, Skill, Tool, ToolError, Value};
use serde::Deserialize;
use std::hint::black_box;
use std::io::Write;

mod budget_bombs;
mod http_probe;
mod receipt_probe;

/// `echo` input.
#[derive(Deserialize)]
struct Echo {
    value: Value,
}

/// Returns its input value unchanged: the control tool.
fn echo(input: Echo) -> Result<Value, ToolError> {
    Ok(input.value)
}

/// Loops forever.
fn spin(_: Value) -> Result<Value, ToolError> {
    let mut counter: u64 = 0;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// `alloc_bomb` input.
#[derive(Deserialize)]
struct AllocBomb {
    #[serde(default = "default_bomb_mib")]
    mib: u64,
    /// Milliseconds to keep the memory (in a WASI clock wait) before returning.
    #[serde(default)]
    hold_ms: u64,
}

fn default_bomb_mib() -> u64 {
    4096
}

/// Allocates `mib` MiB one MiB at a time, writing every page, and keeps it all alive. With
/// the default it dies long before finishing.
fn alloc_bomb(input: AllocBomb) -> Result<Value, ToolError> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    for i in 0..input.mib {
        let mut chunk = vec![0u8; 1 << 20];
        for page in chunk.chunks_mut(4096) {
            page[0] = black_box(i as u8 | 1);
        }
        hoard.push(black_box(chunk));
    }
    let total: usize = black_box(&hoard).iter().map(Vec::len).sum();
    std::thread::sleep(std::time::Duration::from_millis(input.hold_ms));
    Ok(json!({ "allocated_mib": total >> 20 }))
}

/// `recurse` input.
#[derive(Deserialize)]
struct Recurse {
    #[serde(default = "default_depth")]
    depth: u64,
    /// `shadow` (default): 256-byte frames in linear memory, so the shadow stack overflows
    /// (an out-of-bounds trap). `native`: almost no linear-memory frame, so the engine's own
    /// wasm stack limit is what stops it.
    #[serde(default)]
    mode: RecurseMode,
}

/// Which stack `recurse` exhausts.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RecurseMode {
    #[default]
    Shadow,
    Native,
}

fn default_depth() -> u64 {
    u64::MAX
}

/// Recurses `depth` times with a 256-byte frame; the work after the call keeps it from being
/// a tail call, and `black_box` keeps it from being turned into a loop.
#[inline(never)]
fn dive(depth: u64) -> u64 {
    let mut frame = [0u8; 256];
    frame[(depth % 256) as usize] = depth as u8;
    black_box(&mut frame);
    if black_box(depth) == 0 {
        return 0;
    }
    let below = dive(black_box(depth - 1));
    black_box(below).wrapping_add(u64::from(frame[(depth % 256) as usize]))
}

/// Recurses with nothing but wasm locals in each frame; the addition after the call keeps it
/// from being a tail call.
#[inline(never)]
fn dive_native(depth: u64, acc: u64) -> u64 {
    if depth == 0 {
        return acc;
    }
    let below = dive_native(depth - 1, acc ^ depth);
    below.wrapping_mul(31).wrapping_add(depth)
}

/// Recurses `depth` levels (unbounded by default).
fn recurse(input: Recurse) -> Result<Value, ToolError> {
    let result = match input.mode {
        RecurseMode::Shadow => dive(input.depth),
        RecurseMode::Native => dive_native(black_box(input.depth), black_box(1)),
    };
    Ok(json!({ "depth": input.depth, "result": result }))
}

/// Panics with "hostile panic".
fn panic(_: Value) -> Result<Value, ToolError> {
    panic!("hostile panic");
}

/// Executes the wasm `unreachable` instruction.
fn trap(_: Value) -> Result<Value, ToolError> {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}

/// `big_output` input.
#[derive(Deserialize)]
struct BigOutput {
    #[serde(default = "default_output_mib")]
    mib: u64,
}

fn default_output_mib() -> u64 {
    64
}

/// Returns a JSON string of `mib` MiB (plus its two quotes), built in place so that the guest
/// holds only one copy.
fn big_output(input: &str) -> Result<String, ToolError> {
    let BigOutput { mib } = parse_input(input)?;
    let len = usize::try_from(mib << 20)
        .map_err(|_| ToolError::InvalidInput(format!("field `mib`: {mib} is too large")))?;
    let mut out = String::with_capacity(len + 2);
    out.push('"');
    out.extend(std::iter::repeat_n('x', len));
    out.push('"');
    Ok(out)
}

/// `read_env` input.
#[derive(Deserialize)]
struct ReadEnv {
    name: String,
}

/// Reports one environment variable, all of them, and the program arguments.
fn read_env(input: ReadEnv) -> Result<Value, ToolError> {
    let all: serde_json::Map<String, Value> = std::env::vars()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Ok(json!({
        "var": std::env::var(&input.name).ok(),
        "all": all,
        "args": std::env::args().collect::<Vec<_>>(),
    }))
}

/// `read_file` / `list_dir` input.
#[derive(Deserialize)]
struct PathInput {
    path: String,
}

/// `{"ok": true, "content": ...}` or `{"ok": false, "error": "..."}`.
fn outcome<T: serde::Serialize>(result: std::io::Result<T>) -> Value {
    match result {
        Ok(content) => json!({ "ok": true, "content": content }),
        Err(err) => json!({ "ok": false, "error": err.to_string() }),
    }
}

/// Tries to read a file.
fn read_file(input: PathInput) -> Result<Value, ToolError> {
    Ok(outcome(std::fs::read_to_string(&input.path)))
}

/// Tries to list a directory; `content` is the entry names.
fn list_dir(input: PathInput) -> Result<Value, ToolError> {
    let names = std::fs::read_dir(&input.path).and_then(|dir| {
        dir.map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<Vec<String>>>()
    });
    Ok(outcome(names))
}

/// `{"ok": bool, "result": <ok value or the host error's Debug text>}`.
fn host_outcome<T: Into<Value>>(
    result: Result<T, molecule_guest_sdk::HostError>,
) -> Result<Value, ToolError> {
    Ok(match result {
        Ok(value) => json!({ "ok": true, "result": value.into() }),
        Err(err) => json!({ "ok": false, "result": format!("{err:?}") }),
    })
}

/// Tries memory commit("x", local).
fn use_memory(_: Value) -> Result<Value, ToolError> {
    host_outcome(memory::commit("x", Scope::Local))
}

/// `use_config` input.
#[derive(Deserialize)]
struct UseConfig {
    key: String,
}

/// Tries config get(key); an unset key is `"result": null`.
fn use_config(input: UseConfig) -> Result<Value, ToolError> {
    host_outcome(config::get(&input.key))
}

/// Tries a one-message completion; the result is the answer's text.
fn use_llm(_: Value) -> Result<Value, ToolError> {
    let request = ChatRequest::new(vec![ChatMessage::user("hello")]).max_tokens(16);
    host_outcome(llm::complete(&request).map(|r| r.message.content))
}

/// `print` input.
#[derive(Deserialize)]
struct Print {
    text: String,
}

/// Writes `text` to stdout and to stderr.
fn print(input: Print) -> Result<&'static str, ToolError> {
    let mut out = std::io::stdout();
    let _ = out.write_all(input.text.as_bytes());
    let _ = out.flush();
    let mut err = std::io::stderr();
    let _ = err.write_all(input.text.as_bytes());
    let _ = err.flush();
    Ok("printed")
}

/// `sleep_ms` input.
#[derive(Deserialize)]
struct SleepMs {
    ms: u64,
}

/// Blocks in a WASI monotonic-clock wait for `ms` milliseconds.
fn sleep_ms(input: SleepMs) -> Result<Value, ToolError> {
    std::thread::sleep(std::time::Duration::from_millis(input.ms));
    Ok(json!({ "slept_ms": input.ms }))
}

/// `residue` input.
#[derive(Deserialize)]
struct Residue {
    /// Searched for reversed (the input itself, lowered into this memory, must not match).
    marker: String,
    /// KiB of heap to fill with the marker (some of it past the initial memory size).
    #[serde(default)]
    kib: usize,
}

/// Counts copies of the reversed marker anywhere in linear memory (left by an earlier call if
/// memory were reused unreset), then leaves copies in a stack buffer and in `kib` KiB of heap.
fn residue(input: Residue) -> Result<Value, ToolError> {
    let needle: Vec<u8> = input.marker.bytes().rev().collect();
    if needle.len() < 8 {
        return Err(ToolError::InvalidInput("marker: at least 8 bytes".into()));
    }
    let found = count_in_memory(&needle);
    let mut on_stack = [0u8; 4096];
    for slot in on_stack.chunks_mut(needle.len()) {
        slot.copy_from_slice(&needle[..slot.len()]);
    }
    black_box(&on_stack);
    let heap: Vec<u8> = needle
        .iter()
        .copied()
        .cycle()
        .take(input.kib << 10)
        .collect();
    black_box(heap.leak());
    // Proof that the scan sees what this call just wrote.
    let after = count_in_memory(&needle);
    Ok(json!({ "found": found, "after": after }))
}

/// Occurrences of `needle` in the whole linear memory (except `needle` itself), read byte by
/// byte.
#[cfg(target_arch = "wasm32")]
fn count_in_memory(needle: &[u8]) -> usize {
    let size = core::arch::wasm32::memory_size(0) * 65536;
    let own = needle.as_ptr() as usize;
    let mut found = 0;
    // Address 0 is never a needle start worth checking, and skipping it avoids a null read.
    for start in (1..size.saturating_sub(needle.len())).filter(|a| *a != own) {
        // SAFETY: every address below `memory_size` is in bounds of this module's linear
        // memory, and volatile reads of plain bytes have no validity requirements.
        let first = unsafe { core::ptr::read_volatile(start as *const u8) };
        if first != needle[0] {
            continue;
        }
        // SAFETY: as above; `start + needle.len()` is below `size`.
        let matches = (1..needle.len())
            .all(|i| unsafe { core::ptr::read_volatile((start + i) as *const u8) } == needle[i]);
        found += usize::from(matches);
    }
    found
}

#[cfg(not(target_arch = "wasm32"))]
fn count_in_memory(_: &[u8]) -> usize {
    0
}

/// Schema of a tool without input.
fn no_input() -> Value {
    json!({ "type": "object", "properties": {} })
}

/// Schema of an object with the given properties, `required` listing the mandatory ones.
fn object(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": properties, "required": required })
}

/// The skill.
fn skill() -> Skill {
    http_probe::register(receipt_probe::register(budget_bombs::register(
        Skill::new(),
    )))
        .tool(
            "echo",
            "Returns `value` unchanged (control).",
            object(json!({ "value": {} }), &["value"]),
            echo,
        )
        .tool("spin", "Loops forever.", no_input(), spin)
        .tool(
            "residue",
            "Counts the reversed `marker` in its linear memory, then leaves copies on the stack \
             and in `kib` KiB of heap.",
            object(
                json!({ "marker": { "type": "string" }, "kib": { "type": "integer" } }),
                &["marker"],
            ),
            residue,
        )
        .tool(
            "alloc_bomb",
            "Allocates and touches `mib` MiB (default 4096), one MiB at a time, and keeps it \
             `hold_ms` milliseconds.",
            object(
                json!({
                    "mib": { "type": "integer", "minimum": 0 },
                    "hold_ms": { "type": "integer", "minimum": 0 }
                }),
                &[],
            ),
            alloc_bomb,
        )
        .tool(
            "recurse",
            "Recurses `depth` levels (default: unbounded); `mode` `shadow` (default) overflows \
             the linear-memory shadow stack, `native` the engine's wasm stack.",
            object(
                json!({
                    "depth": { "type": "integer", "minimum": 0 },
                    "mode": { "enum": ["shadow", "native"] }
                }),
                &[],
            ),
            recurse,
        )
        .tool("panic", "Panics with \"hostile panic\".", no_input(), panic)
        .tool("trap", "Executes `unreachable`.", no_input(), trap)
        .with(Tool::raw(
            "big_output",
            "Returns a JSON string of `mib` MiB (default 64).",
            object(json!({ "mib": { "type": "integer", "minimum": 0 } }), &[]),
            big_output,
        ))
        .tool(
            "read_env",
            "Returns {var, all, args}: env var `name`, every env var, and the arguments.",
            object(json!({ "name": { "type": "string" } }), &["name"]),
            read_env,
        )
        .tool(
            "read_file",
            "Reads file `path`: {ok, content} or {ok, error}.",
            object(json!({ "path": { "type": "string" } }), &["path"]),
            read_file,
        )
        .tool(
            "list_dir",
            "Lists directory `path`: {ok, content: [names]} or {ok, error}.",
            object(json!({ "path": { "type": "string" } }), &["path"]),
            list_dir,
        )
        .tool(
            "use_memory",
            "Calls memory commit(\"x\", local): {ok, result}.",
            no_input(),
            use_memory,
        )
        .tool(
            "use_config",
            "Calls config get(key): {ok, result}.",
            object(json!({ "key": { "type": "string" } }), &["key"]),
            use_config,
        )
        .tool(
            "use_llm",
            "Calls llm complete with one user message: {ok, result}.",
            no_input(),
            use_llm,
        )
        .tool(
            "print",
            "Writes `text` to stdout and stderr, returns \"printed\".",
            object(json!({ "text": { "type": "string" } }), &["text"]),
            print,
        )
        .tool(
            "sleep_ms",
            "Sleeps `ms` milliseconds in a WASI clock wait.",
            object(
                json!({ "ms": { "type": "integer", "minimum": 0 } }),
                &["ms"],
            ),
            sleep_ms,
        )
}

export_skill!(skill);
