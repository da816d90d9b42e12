//! What a failed call says, made honest and bounded: a tool's own error text cut to the output
//! cap (with a marker naming the bytes cut and the key that raises the cap) and cleaned of
//! control characters, and a trap explained in words — a stack overflow says so, whichever
//! stack overflowed.
//!
//! Why a Rust (or C) guest's stack overflow looks like "out of bounds memory access": the
//! compiler keeps most frames on a *shadow stack* in linear memory, placed first
//! (`--stack-first`) and growing down towards address 0. Running past it wraps the stack
//! pointer below 0 to just under 4 GiB, and the next store there faults in the guard region
//! of the linear memory. Frames that stay in wasm locals use the engine's own stack instead,
//! which wasmtime bounds (`max_wasm_stack`) and reports as "call stack exhausted".

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::bindings::ToolError;
use crate::budgets::{Budget, BudgetHit};

/// The engine's wasm stack limit in bytes, for the stack-overflow message (set by
/// [`crate::sandbox::Sandbox::new`] from the engine's options; one engine per process outside
/// tests).
static WASM_STACK: AtomicUsize = AtomicUsize::new(0);

/// Remembers the engine's wasm stack limit for messages.
pub(crate) fn set_wasm_stack(bytes: usize) {
    WASM_STACK.store(bytes, Ordering::Relaxed);
}

/// A shadow-stack overflow wraps the stack pointer below 0: the fault lands this close under
/// 4 GiB (the largest frame Rust or C puts there is far smaller).
const SHADOW_WRAP_WINDOW: u64 = 16 << 20;

/// Frames a trap's backtrace must show (wasmtime keeps the innermost 20) for an
/// out-of-bounds access inside them, mostly one function, to count as deep recursion.
const DEEP_FRAMES: usize = 16;

/// The words for trap `trap` of error `err`.
pub fn trap_reason(trap: &wasmtime::Trap, err: &wasmtime::Error) -> String {
    match trap {
        wasmtime::Trap::StackOverflow => {
            let kib = WASM_STACK.load(Ordering::Relaxed) >> 10;
            let size = if kib == 0 {
                String::new()
            } else {
                format!(" ({kib} KiB)")
            };
            format!(
                "the guest overflowed its stack{size}: its wasm call stack reached the engine's \
                 limit (call stack exhausted) — deep or unbounded recursion"
            )
        }
        wasmtime::Trap::MemoryOutOfBounds => {
            let seen = match (shadow_stack_fault(&format!("{err:#}")), deep_recursion(err)) {
                (Some(address), _) => format!("at wasm address {address:#x}"),
                (None, Some(frames)) => format!("{frames}+ calls deep in recursion"),
                (None, None) => return trap.to_string(),
            };
            format!(
                "the guest overflowed its stack: the stack its compiler keeps at the bottom of \
                 linear memory (sized when the component was built) ran below address 0 — deep \
                 or unbounded recursion, or a large local buffer (out of bounds memory access \
                 {seen})"
            )
        }
        other => other.to_string(),
    }
}

/// The faulting address when `text` (wasmtime's "memory fault at wasm address 0x… in linear
/// memory of size 0x…", present when a plain store faulted) shows an address just under
/// 4 GiB, outside a memory that small: a shadow stack pointer wrapped below 0.
fn shadow_stack_fault(text: &str) -> Option<u64> {
    let rest = text.split("memory fault at wasm address 0x").nth(1)?;
    let (address, rest) = rest.split_once(' ')?;
    let address = u64::from_str_radix(address, 16).ok()?;
    let size = rest.split("linear memory of size 0x").nth(1)?;
    let size: String = size.chars().take_while(char::is_ascii_hexdigit).collect();
    let size = u64::from_str_radix(&size, 16).ok()?;
    let four_gib = 1u64 << 32;
    let wrapped = address >= four_gib - SHADOW_WRAP_WINDOW && address < four_gib + (1 << 16);
    (wrapped && size < four_gib - SHADOW_WRAP_WINDOW).then_some(address)
}

/// The number of frames when `err`'s backtrace is deep and mostly one function: recursion
/// (an access by `memory.fill` or `memory.copy`, as a zeroed local array compiles to, carries
/// no fault address, so the stack shape is the evidence).
fn deep_recursion(err: &wasmtime::Error) -> Option<usize> {
    let frames = err.downcast_ref::<wasmtime::WasmBacktrace>()?.frames();
    if frames.len() < DEEP_FRAMES {
        return None;
    }
    let mut counts = std::collections::HashMap::new();
    for frame in frames {
        *counts.entry(frame.func_index()).or_insert(0usize) += 1;
    }
    let most = counts.values().copied().max().unwrap_or(0);
    (most * 2 >= frames.len()).then_some(frames.len())
}

/// The tail of the marker on cut error text under the workspace's key, which
/// [`with_keys`] rewrites for callers whose cap is set elsewhere (`call --max-output`).
const CONFIG_TAIL: &str = "(raise sandbox.max_output)]";

/// `err` with its text cut to `limit` bytes (the output cap, which error text must not
/// escape) and cleaned: control characters other than line breaks and tabs, and the Unicode
/// line separators and bidirectional overrides, become `�`, so a guest cannot flood or forge
/// what the model, a log or a terminal shows. Cut text ends with a marker saying how many
/// bytes were cut and which key raises the cap; the cut counts as a hit of
/// [`Budget::ToolErrorBytes`].
pub fn cap_tool_error(err: ToolError, limit: usize) -> ToolError {
    let fit = |text: String| fit_text(text, limit);
    match err {
        ToolError::InvalidInput(t) => ToolError::InvalidInput(fit(t)),
        ToolError::Failed(t) => ToolError::Failed(fit(t)),
        ToolError::Denied(t) => ToolError::Denied(fit(t)),
        ToolError::NotFound(t) => ToolError::NotFound(fit(t)),
    }
}

/// True for a character guest text may not carry to a reader.
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn fit_text(text: String, limit: usize) -> String {
    if text.len() <= limit {
        if !text.chars().any(unsafe_char) {
            return text;
        }
        let clean: String = text.chars().map(clean_char).collect();
        if clean.len() <= limit {
            return clean;
        }
    }
    let marker = |cut: usize| {
        let hit = BudgetHit {
            budget: Budget::ToolErrorBytes,
            limit: limit as u64,
        };
        format!("… [{cut} more bytes cut; {hit}]")
    };
    // Room for the marker with the largest count it can show.
    let room = limit.saturating_sub(marker(text.len()).len());
    let mut out = String::with_capacity(room.min(text.len()) + 4);
    let mut used = text.len();
    for (at, c) in text.char_indices() {
        let shown = clean_char(c);
        if out.len() + shown.len_utf8() > room {
            used = at;
            break;
        }
        out.push(shown);
    }
    BudgetHit::record(Budget::ToolErrorBytes, limit as u64);
    out.push_str(&marker(text.len() - used));
    out
}

/// `text` (an adapter's failure reason) cut to `limit` bytes and cleaned like a tool's error
/// text ([`cap_tool_error`]): the cut ends with a marker naming the bytes cut and the key that
/// raises the cap, and counts as a hit of [`Budget::ToolErrorBytes`].
pub fn cap_error_text(text: String, limit: usize) -> String {
    fit_text(text, limit)
}

fn clean_char(c: char) -> char {
    if unsafe_char(c) {
        '\u{fffd}'
    } else {
        c
    }
}

/// `text` (a tool error's message) with the cut marker naming `max_output` as the key.
pub fn with_keys(text: String, max_output: &str) -> String {
    match text.strip_suffix(CONFIG_TAIL) {
        Some(head) if max_output != "sandbox.max_output" => {
            format!("{head}(raise {max_output})]")
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_error_text_is_capped_marked_and_cleaned() {
        let hits = || {
            crate::budgets::hits()
                .find(|(b, _)| *b == Budget::ToolErrorBytes)
                .map_or(0, |(_, n)| n)
        };
        let before = hits();
        let long = ToolError::Failed(format!("\u{1b}[2J\u{202e}{}", "é".repeat(10_000)));
        let ToolError::Failed(text) = cap_tool_error(long, 1024) else {
            panic!("kind kept")
        };
        assert!(text.len() <= 1024, "{}", text.len());
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{202e}'),
            "{text}"
        );
        assert!(
            text.ends_with(
                "more bytes cut; budget spent: tool error text is limited to 1 KiB \
                 (raise sandbox.max_output)]"
            ),
            "{text}"
        );
        assert!(hits() > before);
        let cli = with_keys(text, "--max-output");
        assert!(cli.ends_with("(raise --max-output)]"), "{cli}");
        let short = cap_tool_error(ToolError::Denied("line\nnext\tx".into()), 1024);
        assert!(matches!(short, ToolError::Denied(t) if t == "line\nnext\tx"));
    }

    #[test]
    fn adapter_failure_reason_is_capped_to_max_output() {
        let reason = format!(
            "boom\n<fake log record>\u{1b}[31m\r{}",
            "x".repeat(30 << 20)
        );
        let text = cap_error_text(reason, 1 << 20);
        assert!(text.len() <= 1 << 20, "{}", text.len());
        assert!(text.starts_with("boom\n<fake log record>\u{fffd}[31m\u{fffd}x"));
        assert!(
            text.ends_with("limited to 1 MiB (raise sandbox.max_output)]"),
            "{}",
            &text[text.len() - 120..]
        );
        assert_eq!(cap_error_text("short".into(), 1 << 20), "short");
    }

    #[test]
    fn a_wrapped_stack_pointer_is_a_stack_overflow() {
        let oob = wasmtime::Trap::MemoryOutOfBounds;
        let fault = |address: &str| {
            wasmtime::Error::new(oob).context(format!(
                "memory fault at wasm address {address} in linear memory of size 0x110000"
            ))
        };
        let reason = trap_reason(&oob, &fault("0xffffff80"));
        assert!(
            reason.starts_with("the guest overflowed its stack"),
            "{reason}"
        );
        assert!(reason.contains("0xffffff80"), "{reason}");
        // A wild pointer inside the first gigabytes is not called a stack overflow.
        let reason = trap_reason(&oob, &fault("0x20000000"));
        assert_eq!(reason, oob.to_string());
        let plain = wasmtime::Error::new(oob);
        assert_eq!(trap_reason(&oob, &plain), oob.to_string());
        let overflow = wasmtime::Trap::StackOverflow;
        let native = trap_reason(&overflow, &wasmtime::Error::new(overflow));
        assert!(
            native.starts_with("the guest overflowed its stack"),
            "{native}"
        );
    }
}
