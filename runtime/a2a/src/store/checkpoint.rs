//! WAL checkpoints off the store thread. A commit in WAL mode with `synchronous=NORMAL` only
//! appends to the WAL file; copying the WAL back into the database (a checkpoint) is what
//! syncs the disk, and SQLite's automatic checkpoint would run it inside a commit, so every
//! few hundred replies one would wait for two disk syncs. Here a thread of its own, on its
//! own connection, runs a PASSIVE checkpoint (it never blocks the writer or readers) every
//! [`EVERY`]; the store thread's automatic checkpoint stays on with a much larger threshold
//! ([`BACKSTOP_PAGES`]) in case this thread cannot keep up.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

use super::types::reason;

/// How often the WAL is checkpointed.
const EVERY: Duration = Duration::from_millis(1000);

/// WAL pages (of 4 KiB) after which a commit checkpoints by itself, as SQLite does by
/// default at 1,000 pages: a backstop that bounds the WAL at about 40 MiB.
pub(super) const BACKSTOP_PAGES: u32 = 10_000;

/// Starts the checkpoint thread for the database at `path`; it stops when the returned
/// sender is dropped (with the last store handle). `None` when it could not start (logged):
/// the automatic checkpoint then does the work, inside commits.
pub(super) fn start(path: &Path) -> Option<mpsc::Sender<()>> {
    let shown = path.display().to_string();
    let conn = match Connection::open(path) {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!(
                "a2a task store: cannot open {shown} for background checkpoints ({}); \
                 commits will checkpoint",
                reason(&e)
            );
            return None;
        }
    };
    let (stop, stopped) = mpsc::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("a2a-task-store-checkpoint".into())
        .spawn(move || run(&conn, &shown, &stopped));
    match spawned {
        Ok(_) => Some(stop),
        Err(e) => {
            tracing::warn!("a2a task store: cannot start the checkpoint thread: {e}");
            None
        }
    }
}

/// Checkpoints every [`EVERY`] until `stopped` is disconnected. A failure is logged once
/// until a checkpoint succeeds again.
fn run(conn: &Connection, path: &str, stopped: &mpsc::Receiver<()>) {
    let mut failing = false;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        match done {
            Ok(()) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!("a2a task store: checkpointing {path}: {}", reason(&e));
            }
            Err(_) => {}
        }
    }
}
