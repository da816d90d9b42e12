//! Memory search latency in the embedded store: 10,000 entries in SQLite (WAL, FTS5 ranked by
//! BM25), one search of a two-word query returning the best 5.
//! Run: `cargo bench -p molecule-tests --bench memory`.

use criterion::{criterion_group, criterion_main, Criterion};
use molecule_runtime::bindings::imports::molecule::runtime::memory::Scope;
use molecule_runtime::capabilities::memory::{MemoryBackend, SqliteMemory};

const WORDS: [&str; 32] = [
    "deploy",
    "staging",
    "database",
    "invoice",
    "customer",
    "retry",
    "policy",
    "release",
    "friday",
    "budget",
    "latency",
    "cache",
    "schema",
    "migration",
    "incident",
    "review",
    "rollback",
    "token",
    "quota",
    "region",
    "backup",
    "alert",
    "pager",
    "sprint",
    "roadmap",
    "contract",
    "vendor",
    "audit",
    "export",
    "import",
    "queue",
    "worker",
];

fn sentence(i: usize) -> String {
    (0..8)
        .map(|k| WORDS[(i * 7 + k * 13 + i / 3) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
        + &format!(" note {i}")
}

fn search(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMemory::open(&dir.path().join("memory.sqlite")).unwrap();
    rt.block_on(async {
        for i in 0..10_000 {
            let scope = [Scope::Local, Scope::Team, Scope::Global][i % 3];
            store.commit(&sentence(i), scope).await.unwrap();
        }
    });
    c.bench_function("memory_search/10k_entries", |b| {
        b.iter(|| {
            let hits = rt
                .block_on(store.search("staging rollback", None, 5))
                .unwrap();
            assert_eq!(hits.len(), 5);
        })
    });
    c.bench_function("memory_search/10k_entries_scoped", |b| {
        b.iter(|| {
            let hits = rt
                .block_on(store.search("invoice vendor", Some(Scope::Team), 5))
                .unwrap();
            assert!(!hits.is_empty());
        })
    });
}

criterion_group!(benches, search);
criterion_main!(benches);
