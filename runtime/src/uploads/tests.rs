//! Unit tests of the upload store: all of a message's files or none, the per-file and
//! per-context limits (refused naming their keys), numbered names on a clash, the part
//! metadata, a malformed media type, a disk failure that acknowledges nothing, and the
//! workspace-wide limits kept as running totals (concurrent uploads, a restart, no reading
//! of other contexts' indexes).

use molecule_a2a::types::{Message, Part, PartContent, Role};

use super::*;

fn file(name: &str, bytes: &[u8], media: Option<&str>) -> Part {
    Part {
        content: PartContent::Raw(bytes.to_vec()),
        filename: Some(name.to_owned()),
        media_type: media.map(str::to_owned),
        metadata: None,
    }
}

fn message(parts: Vec<Part>) -> Message {
    let mut m = Message::new(Role::User, parts);
    m.context_id = Some("c1".into());
    m.task_id = Some("t1".into());
    m
}

fn limits(file: u64, context: u64, files: u64) -> UploadLimits {
    UploadLimits {
        max_file_bytes: file,
        max_context_bytes: context,
        max_context_files: files,
        max_total_bytes: 1 << 30,
        max_contexts: 1000,
        retention: std::time::Duration::from_secs(7 * 86_400),
    }
}

fn refused(result: Result<(), IntakeError>) -> String {
    match result {
        Err(IntakeError::Refused(text)) => text,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_message_is_stored_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let uploads = Uploads::new(dir.path(), limits(10, 100, 10));
    let mut m = message(vec![
        file("a.txt", b"ok", None),
        file("b.txt", &[0; 11], None),
    ]);
    let text = refused(uploads.take_in(&mut m).await);
    assert!(
        text.contains("uploads.max_file_bytes") && text.contains("b.txt"),
        "{text}"
    );
    assert!(
        uploads.existing_files_dir("c1").is_none(),
        "a.txt was not stored"
    );
    assert!(uploads.records("c1").is_empty());
}

#[tokio::test]
async fn files_keep_their_type_and_get_numbered_names() {
    let dir = tempfile::tempdir().unwrap();
    let uploads = Uploads::new(dir.path(), limits(10, 100, 10));
    for _ in 0..2 {
        let mut m = message(vec![
            Part::text("hi"),
            file("../n.txt", b"x", Some("Text/Plain")),
        ]);
        uploads.take_in(&mut m).await.unwrap();
        assert!(m.parts[0].metadata.is_none(), "text parts are left alone");
        assert!(m.parts[1]
            .metadata
            .as_ref()
            .unwrap()
            .contains_key(METADATA_KEY));
    }
    let records = uploads.records("c1");
    let names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["n.txt", "n-2.txt"]);
    assert_eq!(records[1].media_type, "text/plain");
    assert_eq!(records[1].filename.as_deref(), Some("../n.txt"));
    let files = uploads.existing_files_dir("c1").unwrap();
    assert_eq!(std::fs::read(files.join("n-2.txt")).unwrap(), b"x");
    let mut bad = message(vec![file("c.txt", b"x", Some("not a type"))]);
    assert!(refused(uploads.take_in(&mut bad).await).contains("mediaType"));
}

#[tokio::test]
async fn context_limits_refuse_naming_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let uploads = Uploads::new(dir.path(), limits(10, 15, 2));
    let mut m = message(vec![file("a", &[1; 10], None)]);
    uploads.take_in(&mut m).await.unwrap();
    let mut m = message(vec![file("b", &[1; 6], None)]);
    let text = refused(uploads.take_in(&mut m).await);
    assert!(text.contains("uploads.max_context_bytes"), "{text}");
    let mut m = message(vec![file("c", b"", None), file("d", b"", None)]);
    let text = refused(uploads.take_in(&mut m).await);
    assert!(text.contains("uploads.max_context_files"), "{text}");
    assert_eq!(uploads.records("c1").len(), 1);
}

#[tokio::test]
async fn a_disk_failure_fails_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("uploads");
    std::fs::write(&blocker, "a file where the folder should be").unwrap();
    let uploads = Uploads::new(&blocker, limits(10, 100, 10));
    let mut m = message(vec![file("a", b"x", None)]);
    match uploads.take_in(&mut m).await {
        Err(IntakeError::Failed(text)) => assert!(!text.contains(dir.path().to_str().unwrap())),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(m.parts[0].metadata.is_none());
}

#[tokio::test]
async fn workspace_limits_refuse_naming_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = limits(10, 100, 10);
    l.max_total_bytes = 15;
    l.max_contexts = 2;
    let uploads = Uploads::new(dir.path(), l);
    let in_context = |ctx: &str, part: Part| {
        let mut m = message(vec![part]);
        m.context_id = Some(ctx.into());
        m
    };
    uploads
        .take_in(&mut in_context("c1", file("a", &[1; 10], None)))
        .await
        .unwrap();
    let text = refused(
        uploads
            .take_in(&mut in_context("c2", file("b", &[1; 6], None)))
            .await,
    );
    assert!(text.contains("uploads.max_total_bytes"), "{text}");
    uploads
        .take_in(&mut in_context("c2", file("b", &[1; 2], None)))
        .await
        .unwrap();
    let text = refused(
        uploads
            .take_in(&mut in_context("c3", file("c", b"", None)))
            .await,
    );
    assert!(text.contains("uploads.max_contexts"), "{text}");
    assert!(uploads.records("c3").is_empty());
    assert_eq!(uploads.records("c2").len(), 1);
}

fn workspace_limits(total: u64) -> UploadLimits {
    let mut l = limits(100, 100, 10);
    l.max_total_bytes = total;
    l
}

fn in_context(ctx: &str, bytes: usize) -> Message {
    let mut m = message(vec![file("f", &vec![1; bytes], None)]);
    m.context_id = Some(ctx.into());
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_uploads_over_the_budget_exactly_one_is_refused() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::new(dir.path(), workspace_limits(15));
        let (a, b) = (uploads.clone(), uploads.clone());
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move { a.take_in(&mut in_context("ca", 10)).await }),
            tokio::spawn(async move { b.take_in(&mut in_context("cb", 10)).await }),
        );
        let results = [ra.unwrap(), rb.unwrap()];
        let refused: Vec<String> = results
            .into_iter()
            .filter_map(|r| r.err().map(|e| refused(Err(e))))
            .collect();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            refused[0].contains("uploads.max_total_bytes"),
            "{refused:?}"
        );
        assert_eq!(
            uploads.totals().unwrap(),
            Totals {
                contexts: 1,
                bytes: 10
            }
        );
    }
}

#[tokio::test]
async fn the_totals_are_counted_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let before = Uploads::new(dir.path(), workspace_limits(15));
    before.take_in(&mut in_context("c1", 10)).await.unwrap();
    before.take_in(&mut in_context("c1", 2)).await.unwrap();
    drop(before);
    let after = Uploads::new(dir.path(), workspace_limits(15));
    assert_eq!(
        after.totals().unwrap(),
        Totals {
            contexts: 1,
            bytes: 12
        }
    );
    let text = refused(after.take_in(&mut in_context("c2", 4)).await);
    assert!(text.contains("holds 12 bytes"), "{text}");
    after.take_in(&mut in_context("c2", 3)).await.unwrap();
    assert_eq!(
        after.totals().unwrap(),
        Totals {
            contexts: 2,
            bytes: 15
        }
    );
}

/// The workspace check reads no other context's index: with one damaged after the totals
/// were counted, uploads to other contexts go on (the old check read every index and failed).
/// Counted again at a restart, the damaged context's files on disk still count.
#[tokio::test]
async fn an_upload_reads_no_other_contexts_index() {
    let dir = tempfile::tempdir().unwrap();
    let uploads = Uploads::new(dir.path(), workspace_limits(15));
    uploads.take_in(&mut in_context("c1", 10)).await.unwrap();
    std::fs::write(dir.path().join("c1").join(index::INDEX_FILE), "not json").unwrap();
    uploads.take_in(&mut in_context("c2", 1)).await.unwrap();
    let restarted = Uploads::new(dir.path(), workspace_limits(15));
    assert_eq!(
        restarted.totals().unwrap(),
        Totals {
            contexts: 2,
            bytes: 11
        }
    );
    let text = refused(restarted.take_in(&mut in_context("c3", 5)).await);
    assert!(text.contains("uploads.max_total_bytes"), "{text}");
}

#[test]
fn a_relative_root_is_made_absolute() {
    // A CLI agent's program runs in its own task folder: a path relative to the runtime's
    // folder would not open there (`--config-dir ws` gave `ws/.molecule/uploads/…`).
    let store = Uploads::new("ws/.molecule/uploads", limits(1024, 4096, 4));
    assert!(store.root.is_absolute(), "{}", store.root.display());
    assert!(store.root.ends_with("ws/.molecule/uploads"));
}
