//! Storing one upload (a 1 KiB file part in a new context: checks, write, sync, index) with
//! 1 and with 1000 other contexts already holding uploads. The workspace-wide limits
//! (`uploads.max_total_bytes`, `uploads.max_contexts`) are checked against running totals,
//! so the two should match; a check that read every context's index grew with the count.
//! Each sample's context is removed from the disk again outside the timing, so the folder
//! always holds exactly the stated number of others (the running totals still count the
//! removed ones; `uploads.max_contexts` is set to its ceiling so that never refuses).
//! Run: `cargo bench -p molecule-tests --bench uploads`.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use molecule_a2a::types::{Message, Part, PartContent, Role};
use molecule_runtime::uploads::{UploadLimits, Uploads};

fn message(context: &str) -> Message {
    let part = Part {
        content: PartContent::Raw(vec![b'u'; 1024]),
        filename: Some("notes.txt".into()),
        media_type: Some("text/plain".into()),
        metadata: None,
    };
    let mut m = Message::new(Role::User, vec![part]);
    m.context_id = Some(context.into());
    m
}

fn store(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let config = molecule_config::UploadsConfig {
        max_contexts: 1_000_000,
        ..Default::default()
    };
    let mut group = c.benchmark_group("upload_store");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(10));
    for existing in [1usize, 1000] {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::new(dir.path(), UploadLimits::from(&config));
        rt.block_on(async {
            for i in 0..existing {
                uploads
                    .take_in(&mut message(&format!("old-{i}")))
                    .await
                    .unwrap();
            }
        });
        let mut n = 0u64;
        group.bench_function(BenchmarkId::from_parameter(existing), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let context = format!("new-{n}");
                    let mut m = message(&context);
                    let started = Instant::now();
                    rt.block_on(uploads.take_in(&mut m)).unwrap();
                    spent += started.elapsed();
                    std::fs::remove_dir_all(dir.path().join(&context)).unwrap();
                }
                spent
            })
        });
    }
    group.finish();
}

criterion_group!(benches, store);
criterion_main!(benches);
