//! WASI for untrusted guests, denied by default: no inherited environment, arguments, stdin,
//! files or sockets. Clocks and randomness are allowed (the Rust standard library needs them).
//! Guest stdout and stderr go to the host log, tagged with the component, within the call's
//! log budget (bytes and records, shared with `log`). Outgoing HTTP (`wasi:http`) gets its
//! per-call budget here too ([`http_budget`]), mapped onto the runtime's budget errors.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{FsPerms, WasiCtx};

use crate::budgets::{Budget, BudgetHit, Budgets};
pub use crate::capabilities::log::LogBudget;
use crate::grants::Grants;

/// Builds the WASI context of one store from the component's grants.
pub fn deny_by_default(grants: &Grants, budget: &LogBudget, tail: &StderrTail) -> WasiCtx {
    let mut builder = WasiCtx::builder();
    let stdout = GuestOutput::new(grants.component(), "stdout", budget.clone(), None);
    let stderr = GuestOutput::new(grants.component(), "stderr", budget.clone(), Some(tail));
    builder
        .stdout(stdout)
        .stderr(stderr)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        // Filesystem ops of granted folders run on the calling tokio worker instead of a hop
        // to the blocking pool: a `stat` costs 0.03 ms instead of 0.14 ms, which matters for
        // Python skills (an import is dozens of fs ops). The trade-off: while one op runs (a
        // local-disk read, microseconds) that worker runs nothing else; a slow network
        // filesystem mounted into a skill would stall the worker for the op's duration. The
        // worker is a guest-pool thread: a call with granted folders or uploads is never
        // polled on a server thread (`scheduler/start_here.rs`, `HostWork::MayBlock`).
        .allow_blocking_current_thread(true);
    for (key, value) in &grants.env {
        builder.env(key, value);
    }
    for dir in &grants.dirs {
        let perms = if dir.writable {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        if let Err(err) = builder.preopened_dir(&dir.host, &dir.guest, perms) {
            tracing::warn!(
                component = grants.component(),
                dir = %dir.host.display(),
                error = %err,
                "granted directory cannot be opened; the guest will not see it"
            );
        }
    }
    builder.build()
}

/// The last lines a guest wrote to stderr, kept so a trap can say what the guest printed
/// before dying (a Rust panic message, for example).
#[derive(Clone, Debug, Default)]
pub struct StderrTail(Arc<Mutex<String>>);

/// How much of the stderr tail is kept, in bytes.
const TAIL_BYTES: usize = 2048;

impl StderrTail {
    fn push(&self, line: &str) {
        let mut tail = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !tail.is_empty() {
            tail.push('\n');
        }
        tail.push_str(line);
        if tail.len() > TAIL_BYTES {
            let mut cut = tail.len() - TAIL_BYTES;
            while !tail.is_char_boundary(cut) {
                cut += 1;
            }
            tail.drain(..cut);
        }
    }

    /// The kept text, oldest first.
    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A guest stdout or stderr that writes whole lines into the host log.
#[derive(Clone)]
struct GuestOutput {
    component: Arc<str>,
    stream: &'static str,
    budget: LogBudget,
    tail: Option<StderrTail>,
}

impl GuestOutput {
    fn new(
        component: &str,
        stream: &'static str,
        budget: LogBudget,
        tail: Option<&StderrTail>,
    ) -> Self {
        GuestOutput {
            component: component.into(),
            stream,
            budget,
            tail: tail.cloned(),
        }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            out: self.clone(),
            line: Vec::new(),
        })
    }
}

/// Buffers bytes until a newline, then logs the line.
struct LineWriter {
    out: GuestOutput,
    line: Vec<u8>,
}

impl LineWriter {
    fn emit(&mut self) {
        if self.line.is_empty() {
            return;
        }
        // Every line is a record; past the record budget it is dropped unseen.
        if !self.out.budget.take_record(&self.out.component) {
            self.line.clear();
            return;
        }
        let text = String::from_utf8_lossy(&self.line);
        let text = text.trim_end_matches(['\n', '\r']);
        if let Some(tail) = &self.out.tail {
            tail.push(text);
        }
        let text = crate::redact::escape(text);
        tracing::info!(
            target: "guest",
            component = %self.out.component,
            stream = self.out.stream,
            "{text}"
        );
        self.line.clear();
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.out.budget.is_spent() {
            // Spent: nothing is buffered or logged, whatever the guest writes.
            return Poll::Ready(Ok(buf.len()));
        }
        let keep = self.out.budget.take(&self.out.component, buf.len());
        for &b in &buf[..keep] {
            self.line.push(b);
            if b == b'\n' || self.line.len() >= 4096 {
                self.emit();
            }
        }
        // Report everything as written: a guest must not be able to stall on its own output.
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.emit();
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.emit();
    }
}

/// The outgoing-HTTP budget of one call (`sandbox.http.max_requests_per_call`,
/// `sandbox.http.max_bytes_per_call`): requests past it are refused before any DNS lookup or
/// connection, and bytes past it end the body with the budget error. Each refusal counts a
/// hit in `/metrics`; the first of each kind in a call is logged once by molecule-egress.
pub fn http_budget(budgets: &Budgets) -> molecule_egress::CallBudget {
    molecule_egress::CallBudget::new(budgets.http_requests, budgets.http_bytes).on_spent(|spent| {
        let hit = match spent {
            molecule_egress::Spent::Requests { limit } => {
                BudgetHit::record(Budget::HttpRequests, limit)
            }
            molecule_egress::Spent::Bytes { limit } => BudgetHit::record(Budget::HttpBytes, limit),
        };
        hit.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_shared_and_capped() {
        let budget = LogBudget::new(10, 100);
        let other = budget.clone();
        assert_eq!(budget.take("c", 6), 6);
        assert_eq!(other.take("c", 6), 4);
        assert_eq!(budget.take("c", 1), 0);
    }

    #[tokio::test]
    async fn output_lines_are_records_and_nothing_is_kept_past_the_budget() {
        use tokio::io::AsyncWriteExt;
        let budget = LogBudget::new(1 << 20, 3);
        let out = GuestOutput::new("skill s", "stdout", budget.clone(), None);
        let mut stream = Box::into_pin(out.async_stream());
        for _ in 0..10_000 {
            stream.write_all(b"\n").await.unwrap();
        }
        stream.write_all(b"more text").await.unwrap();
        stream.shutdown().await.unwrap();
        assert!(budget.is_spent());
        assert_eq!(
            budget.used(),
            (4, 3),
            "3 lines logged; the 4th byte's line was dropped"
        );
    }

    #[test]
    fn the_http_budget_names_the_limit_and_the_key() {
        let budgets = Budgets {
            http_requests: 7,
            ..Budgets::default()
        };
        let text = http_budget(&budgets).refusal(molecule_egress::Spent::Requests { limit: 7 });
        assert!(text.contains("limited to 7"), "{text}");
        assert!(
            text.contains("sandbox.http.max_requests_per_call"),
            "{text}"
        );
    }
}
