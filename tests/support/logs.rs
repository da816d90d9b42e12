//! Log capture for a test binary: one process-wide `tracing` subscriber (INFO and up, no
//! colours) writing into a buffer the tests search. Tests of one binary run in parallel and
//! share it, so a test filters the lines by something of its own (a port, an id).

use std::sync::{Arc, Mutex, OnceLock};

/// Installs the subscriber (once per process) and returns the buffer it writes to.
///
/// # Panics
/// Another global subscriber was installed first.
pub fn capture() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        buffer
    })
}

/// Every captured line containing all of `needles`.
pub fn lines(needles: &[&str]) -> Vec<String> {
    let buffer = capture().lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&buffer)
        .lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .map(str::to_owned)
        .collect()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
