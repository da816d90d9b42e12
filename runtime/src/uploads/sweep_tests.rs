//! Unit tests of the uploads sweep against a real (in-memory SQLite) task store: contexts past
//! `uploads.retention` go, unless a task of theirs is unfinished; contexts whose tasks the
//! store's retention removed go after the grace; a message during a sweep spares its
//! context; a sweep removes at most its budget; the running totals follow; the runtime's
//! thread keeps running while a sweep removes files. Ages are set through the index files'
//! modification times.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use molecule_a2a::types::{Message, Part, PartContent, Role, Task, TaskState, TaskStatus};
use molecule_a2a::{Retention, TaskStore};

use super::*;
use crate::uploads::{Totals, UploadLimits};

const DAY: Duration = Duration::from_secs(86_400);

fn limits() -> UploadLimits {
    UploadLimits {
        max_file_bytes: 100,
        max_context_bytes: 1000,
        max_context_files: 10,
        max_total_bytes: 30,
        max_contexts: 1000,
        retention: 7 * DAY,
    }
}

fn task(id: &str, context: &str, state: TaskState) -> Task {
    Task {
        id: id.into(),
        context_id: context.into(),
        status: TaskStatus {
            state,
            message: None,
            timestamp: None,
        },
        artifacts: None,
        history: None,
        metadata: None,
    }
}

async fn upload(uploads: &Uploads, context: &str, bytes: usize) -> Result<(), String> {
    let part = Part {
        content: PartContent::Raw(vec![7; bytes]),
        filename: Some("f.bin".into()),
        media_type: None,
        metadata: None,
    };
    let mut m = Message::new(Role::User, vec![part]);
    m.context_id = Some(context.into());
    uploads.take_in(&mut m).await.map_err(|e| format!("{e:?}"))
}

/// Makes `context`'s last upload `age` old.
fn age(root: &Path, context: &str, age: Duration) {
    let index = root.join(context).join(index::INDEX_FILE);
    let file = std::fs::File::options().write(true).open(index).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

#[tokio::test]
async fn expired_contexts_go_unless_a_task_of_theirs_is_unfinished() {
    let dir = tempfile::tempdir().unwrap();
    let uploads = Uploads::new(dir.path(), limits());
    let store = TaskStore::in_memory(Retention::default()).unwrap();
    for (ctx, state) in [
        ("old", TaskState::Completed),
        ("busy", TaskState::Working),
        ("waiting", TaskState::InputRequired),
        ("fresh", TaskState::Completed),
    ] {
        upload(&uploads, ctx, 5).await.unwrap();
        store.put(&task(ctx, ctx, state)).await.unwrap();
    }
    for ctx in ["old", "busy", "waiting"] {
        age(dir.path(), ctx, 8 * DAY);
    }
    age(dir.path(), "fresh", 6 * DAY);
    let report = uploads.sweep(&store, SystemTime::now()).await.unwrap();
    assert_eq!(
        (report.expired, report.orphaned, report.files, report.bytes),
        (1, 0, 1, 5)
    );
    assert_eq!(
        report.in_use, 2,
        "busy and waiting are kept for their tasks"
    );
    assert!(!dir.path().join("old").exists());
    for kept in ["busy", "waiting", "fresh"] {
        assert_eq!(uploads.records(kept).len(), 1, "{kept}");
    }
    assert_eq!(
        uploads.totals().unwrap(),
        Totals {
            contexts: 3,
            bytes: 15
        }
    );
    // The 5 bytes freed count again under uploads.max_total_bytes (30).
    upload(&uploads, "next", 15).await.unwrap();
    assert!(upload(&uploads, "more", 1)
        .await
        .unwrap_err()
        .contains("max_total_bytes"));
}

#[tokio::test]
async fn uploads_go_with_the_tasks_the_store_retention_removed() {
    let dir = tempfile::tempdir().unwrap();
    let uploads = Uploads::new(dir.path(), limits());
    let retention = Retention {
        max_tasks: 1,
        max_age: 30 * DAY,
    };
    let store = TaskStore::in_memory(retention).unwrap();
    for ctx in ["first", "second"] {
        upload(&uploads, ctx, 3).await.unwrap();
        store
            .put(&task(ctx, ctx, TaskState::Completed))
            .await
            .unwrap();
        age(dir.path(), ctx, ORPHAN_GRACE + Duration::from_secs(60));
    }
    upload(&uploads, "no-task-yet", 3).await.unwrap();
    molecule_a2a::store::prune_now(&store).await.unwrap();
    let left: Vec<String> = store
        .contexts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.context_id)
        .collect();
    assert_eq!(left, ["second"], "the store kept only the newest task");
    let report = uploads.sweep(&store, SystemTime::now()).await.unwrap();
    assert_eq!((report.expired, report.orphaned, report.bytes), (0, 1, 3));
    assert!(!dir.path().join("first").exists());
    assert_eq!(uploads.records("second").len(), 1);
    assert_eq!(
        uploads.records("no-task-yet").len(),
        1,
        "younger than the grace: its task may be on its way"
    );
}

#[tokio::test]
async fn a_message_during_a_sweep_spares_its_context() {
    let dir = tempfile::tempdir().unwrap();
    let uploads = Uploads::new(dir.path(), limits());
    upload(&uploads, "old", 2).await.unwrap();
    age(dir.path(), "old", 8 * DAY);
    uploads.lock().touched = Some(HashSet::new());
    // A message with no file still marks its context.
    let mut m = Message::new(Role::User, vec![Part::text("use the file")]);
    m.context_id = Some("old".into());
    uploads.take_in(&mut m).await.unwrap();
    let report = uploads
        .sweep_folders(&HashMap::new(), SystemTime::now())
        .unwrap();
    assert_eq!(report, SweepReport::default());
    assert_eq!(uploads.records("old").len(), 1);
    uploads.lock().touched = None;
    let report = uploads
        .sweep_folders(&HashMap::new(), SystemTime::now())
        .unwrap();
    assert_eq!(report.expired, 1);
}

#[tokio::test]
async fn a_sweep_removes_at_most_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let uploads = Uploads::new(dir.path(), limits());
    let n = SWEEP_MAX_CONTEXTS + 4;
    for i in 0..n {
        let ctx = dir.path().join(format!("c{i}"));
        std::fs::create_dir(&ctx).unwrap();
        std::fs::write(ctx.join(index::INDEX_FILE), "[]").unwrap();
    }
    assert_eq!(uploads.totals().unwrap().contexts, n as u64);
    let later = SystemTime::now() + 8 * DAY;
    let store = TaskStore::in_memory(Retention::default()).unwrap();
    let first = uploads.sweep(&store, later).await.unwrap();
    assert_eq!(
        (first.expired, first.more),
        (SWEEP_MAX_CONTEXTS as u64, true)
    );
    let second = uploads.sweep(&store, later).await.unwrap();
    assert_eq!((second.expired, second.more), (4, false));
    assert_eq!(uploads.totals().unwrap(), Totals::default());
}

#[test]
fn verdicts() {
    let r = 7 * DAY;
    let hour = Duration::from_secs(3600);
    assert_eq!(verdict(8 * DAY, Some(true), r), Verdict::InUse);
    assert_eq!(verdict(hour, Some(true), r), Verdict::Keep);
    assert_eq!(
        verdict(8 * DAY, Some(false), r),
        Verdict::Remove(Due::Expired)
    );
    assert_eq!(verdict(8 * DAY, None, r), Verdict::Remove(Due::Expired));
    assert_eq!(verdict(hour, Some(false), r), Verdict::Keep);
    assert_eq!(verdict(hour, None, r), Verdict::Remove(Due::Orphaned));
    assert_eq!(verdict(Duration::from_secs(60), None, r), Verdict::Keep);
}

/// Makes the context folder `ctx` under `root` with `files` files of 10 bytes and their
/// index, quickly (no syncing: only the sweep is under test).
fn fill(root: &Path, ctx: &str, files: usize) {
    let dir = root.join(ctx);
    std::fs::create_dir_all(dir.join("files")).unwrap();
    let records: Vec<index::UploadRecord> = (0..files)
        .map(|n| {
            let name = format!("f{n}.bin");
            std::fs::write(dir.join("files").join(&name), [7u8; 10]).unwrap();
            index::UploadRecord {
                name,
                filename: None,
                media_type: "application/octet-stream".into(),
                bytes: 10,
                task_id: None,
                message_id: format!("m{n}"),
            }
        })
        .collect();
    std::fs::write(
        dir.join(index::INDEX_FILE),
        serde_json::to_vec(&records).unwrap(),
    )
    .unwrap();
}

/// Context folders left under `root`.
fn folders(root: &Path) -> usize {
    std::fs::read_dir(root).map_or(0, |d| d.flatten().count())
}

/// The ticks a thread off the runtime sees `ticks` advance by between the sweep's first
/// removal (fewer than `all` folders left) and its last (none left), or `done`.
fn ticks_during_removal(
    root: std::path::PathBuf,
    all: usize,
    ticks: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let wait = |until: &dyn Fn(usize) -> bool| {
            while !until(folders(&root)) && !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_micros(200));
            }
            ticks.load(Ordering::SeqCst)
        };
        let first = wait(&|n| n < all);
        wait(&|n| n == 0) - first
    })
}

/// A sweep's file work never holds the runtime's thread: on a current-thread runtime a 1 ms
/// ticker keeps ticking while a sweep removes many files and text-only messages (each noting
/// its context for the sweep) keep arriving. It once held the store's lock through all its
/// removals, and each message's note waited for it on the runtime's only thread.
#[tokio::test(flavor = "current_thread")]
async fn the_runtime_keeps_running_while_a_sweep_removes_files() {
    const CONTEXTS: usize = 128;
    const FILES: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let uploads = Uploads::new(dir.path(), limits());
    for c in 0..CONTEXTS {
        fill(dir.path(), &format!("c{c}"), FILES);
    }
    let all = Totals {
        contexts: CONTEXTS as u64,
        bytes: (CONTEXTS * FILES * 10) as u64,
    };
    assert_eq!(uploads.totals().unwrap(), all);
    let (ticks, done) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let ticking = ticks.clone();
    let ticker = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            ticking.fetch_add(1, Ordering::SeqCst);
        }
    });
    let talker = uploads.clone();
    let messages = tokio::spawn(async move {
        for n in 0.. {
            let mut m = Message::new(Role::User, vec![Part::text("hello")]);
            m.context_id = Some(format!("talk{}", n % 4));
            talker.take_in(&mut m).await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let watcher = ticks_during_removal(dir.path().into(), CONTEXTS, ticks, done.clone());
    let store = TaskStore::in_memory(Retention::default()).unwrap();
    let report = uploads.sweep(&store, SystemTime::now() + 8 * DAY).await;
    done.store(true, Ordering::SeqCst);
    let during = watcher.join().unwrap();
    ticker.abort();
    messages.abort();
    let report = report.unwrap();
    assert_eq!(
        (report.expired, report.files),
        (CONTEXTS as u64, (CONTEXTS * FILES) as u64)
    );
    assert_eq!(uploads.totals().unwrap(), Totals::default());
    assert!(
        during > 5,
        "the runtime's thread stalled while the sweep removed files: {during} ticks"
    );
}
