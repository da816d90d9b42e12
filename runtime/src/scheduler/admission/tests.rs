//! Unit tests of admission: FIFO waiting, the queue bound, `max_wait`, resizing, spare
//! instances, the config keys and the "busy" texts.

use super::*;

fn config(slots: u32, waiting: u64, wait_ms: u64) -> AdmissionConfig {
    AdmissionConfig {
        max_concurrent_calls: slots,
        max_guest_memory: 1 << 20,
        max_waiting: waiting,
        max_wait: Duration::from_millis(wait_ms),
    }
}

#[tokio::test]
async fn waits_in_order_and_refuses_past_the_queue() {
    let a = Arc::new(Admission::new(config(1, 1, 60_000), None));
    let first = a.admit().await.expect("a free slot");
    let a2 = a.clone();
    let second = tokio::spawn(async move { a2.admit().await.map(|_| ()) });
    while a.waiting() < 1 {
        tokio::task::yield_now().await;
    }
    let third = a.admit().await.expect_err("the queue holds one");
    assert!(matches!(
        third,
        Busy::QueueFull {
            slots: 1,
            waiting: 1
        }
    ));
    let text = third.to_string();
    assert!(text.starts_with("busy:"), "{text}");
    assert!(text.contains(KEY_MAX_WAITING) && text.contains(KEY_MAX_CONCURRENT));
    drop(first);
    second
        .await
        .unwrap()
        .expect("admitted once the slot is free");
    assert_eq!((a.running(), a.waiting()), (0, 0));
}

#[tokio::test]
async fn a_wait_past_max_wait_is_busy() {
    let a = Arc::new(Admission::new(config(1, 10, 20), None));
    let _held = a.admit().await.unwrap();
    let err = a.admit().await.expect_err("no slot within max_wait");
    assert!(err.to_string().contains(KEY_MAX_WAIT), "{err}");
    assert_eq!(a.waiting(), 0);
}

#[tokio::test]
async fn fewer_slots_take_effect_as_calls_end() {
    let a = Arc::new(Admission::new(config(2, 0, 10), None));
    let p1 = a.admit().await.unwrap();
    let p2 = a.admit().await.unwrap();
    a.configure(config(1, 0, 10));
    drop(p1);
    assert!(a.admit().await.is_err(), "one slot, still held");
    drop(p2);
    let _p3 = a.admit().await.expect("the one slot");
}

#[tokio::test]
async fn a_small_pool_caps_the_slots_and_keeps_spare_instances() {
    let a = Arc::new(Admission::new(config(1000, 0, 10), Some(20)));
    assert_eq!(a.slots(), 20 - MIN_SPARE_INSTANCES);
    let spares: Vec<_> = futures_spares(&a, MIN_SPARE_INSTANCES as usize + 4).await;
    assert_eq!(
        spares.len(),
        MIN_SPARE_INSTANCES as usize,
        "only the spare ones"
    );
    assert!(Arc::new(Admission::default())
        .spare_instance()
        .await
        .is_none());
}

/// Takes up to `n` spare instances, stopping at the first that would wait.
async fn futures_spares(a: &Arc<Admission>, n: usize) -> Vec<Permit> {
    let mut out = Vec::new();
    for _ in 0..n {
        let next = a.spare_instance();
        match tokio::time::timeout(Duration::from_millis(20), next).await {
            Ok(Some(p)) => out.push(p),
            _ => break,
        }
    }
    out
}

#[test]
fn configured_reads_the_admission_keys() {
    let yaml = "sandbox: {admission: {max_concurrent_calls: 8, max_guest_memory: 1g, \
                max_waiting: 3, max_wait: 5s}}\n";
    let config = molecule_config::WorkspaceConfig::from_yaml_str(
        yaml,
        std::path::Path::new("/cfg"),
        &molecule_config::Env::from_pairs(Vec::<(String, String)>::new()),
    );
    let c = AdmissionConfig::configured(&config.sandbox);
    assert_eq!(c.max_concurrent_calls, 8);
    assert_eq!(c.max_guest_memory, 1 << 30);
    assert_eq!(c.max_waiting, 3);
    assert_eq!(c.max_wait, Duration::from_secs(5));
    let none = molecule_config::SandboxConfig::default();
    assert_eq!(
        AdmissionConfig::configured(&none),
        AdmissionConfig::default()
    );
}

/// The "busy" texts count right: one slot is "the only sandbox slot", one waiting call is
/// "1 call", a queue of 0 says no call may wait.
#[test]
fn busy_texts_use_singular_and_plural() {
    let full = |slots, waiting| Busy::QueueFull { slots, waiting }.to_string();
    assert!(
        full(1, 1).contains("the only sandbox slot is in use and 1 call is already waiting"),
        "{}",
        full(1, 1)
    );
    assert!(
        full(4, 7).contains("all 4 sandbox slots are in use and 7 calls are already waiting"),
        "{}",
        full(4, 7)
    );
    assert!(
        full(2, 0).contains("no call may wait (sandbox.admission.max_waiting is 0)"),
        "{}",
        full(2, 0)
    );
    let waited = |slots| {
        Busy::Waited {
            slots,
            max_wait: Duration::from_secs(60),
        }
        .to_string()
    };
    assert!(
        waited(1).contains("waited 60s for the only sandbox slot;"),
        "{}",
        waited(1)
    );
    assert!(
        waited(3).contains("waited 60s for one of the 3 sandbox slots;"),
        "{}",
        waited(3)
    );
}

/// `max_concurrent_calls` above 100,000 is a config error; a hand-built config above it is
/// held to the maximum rather than wrapped or clamped to `u32::MAX`.
#[test]
fn max_concurrent_calls_has_a_maximum() {
    let env = molecule_config::Env::from_pairs(Vec::<(String, String)>::new());
    let yaml = "sandbox: {admission: {max_concurrent_calls: 100000000}}\n";
    let config =
        molecule_config::WorkspaceConfig::from_yaml_str(yaml, std::path::Path::new("/cfg"), &env);
    let error = config
        .errors
        .iter()
        .find(|e| e.key == KEY_MAX_CONCURRENT)
        .expect("an error naming the key");
    assert!(
        error.message.contains("above the maximum 100000"),
        "{error}"
    );
    let mut sandbox = molecule_config::SandboxConfig::default();
    sandbox
        .limits
        .insert(KEY_MAX_CONCURRENT.to_string(), 1 << 40);
    let c = AdmissionConfig::configured(&sandbox);
    assert_eq!(
        u64::from(c.max_concurrent_calls),
        molecule_config::MAX_CONCURRENT_CALLS
    );
}
