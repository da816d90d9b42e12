//! Tests of [`super`]: where a started-here call runs, when it hops instead, and the budget.

use super::*;
use crate::scheduler::pool::{note_epoch_yield, BATCH_THREAD, INTERACTIVE_THREAD, SLICE_TICKS};

/// The turns and the budget are process-wide: these tests take them one at a time.
static TURNS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The component the tests' calls belong to (tests that get a component barred use their own).
const C: &str = "skill test";

fn thread_name() -> Option<String> {
    std::thread::current().name().map(str::to_owned)
}

/// Fills the process-wide budget (a test before may have spent it).
fn full_budget() {
    let mut budget = BUDGET.lock().unwrap();
    budget.credit_ns = BURST.as_nanos() as i64;
    budget.refilled = None;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_is_ready_at_once_answers_on_the_asking_thread() {
    let _turns = TURNS.lock().await;
    full_budget();
    let answered = counts().0[0].1;
    let here = thread_name();
    let name = starting_here(async {
        assert!(may_start_here());
        run_starting_here(async { thread_name() }, C, HostWork::NonBlocking).await
    })
    .await;
    assert_eq!(name.flatten(), here);
    assert!(!may_start_here());
    assert_eq!(
        STARTED_HERE.load(Ordering::Acquire),
        0,
        "the turn is given back"
    );
    assert_eq!(counts().0[0].1, answered + 1, "counted as answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_yields_moves_to_the_pool_with_its_ticks() {
    let _turns = TURNS.lock().await;
    full_budget();
    let here = thread_name();
    let seen = run_starting_here(
        async {
            let mut seen = Vec::new();
            for _ in 0..(SLICE_TICKS + 2) {
                seen.push(thread_name());
                note_epoch_yield();
                tokio::task::yield_now().await;
            }
            seen
        },
        C,
        HostWork::NonBlocking,
    )
    .await
    .expect("the call returns");
    assert_eq!(seen[0], here, "first poll on the asking thread");
    assert_eq!(seen[1].as_deref(), Some(INTERACTIVE_THREAD));
    // The tick of the first poll counts: batch after SLICE_TICKS yields in all.
    assert_eq!(seen[SLICE_TICKS as usize].as_deref(), Some(BATCH_THREAD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_first_poll_spawns_belongs_to_the_pool() {
    let _turns = TURNS.lock().await;
    full_budget();
    let here = thread_name();
    let (polled_on, spawned) = run_starting_here(
        async { (thread_name(), tokio::spawn(async { thread_name() })) },
        C,
        HostWork::NonBlocking,
    )
    .await
    .expect("the call returns");
    assert_eq!(polled_on, here, "the call itself ran on the asking thread");
    let spawned = spawned.await.expect("the spawned task");
    assert_eq!(spawned.as_deref(), Some(INTERACTIVE_THREAD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_first_poll_loses_the_call_not_the_caller() {
    let _turns = TURNS.lock().await;
    full_budget();
    let here = thread_name();
    let lost = run_starting_here(
        async move {
            if thread_name() == here {
                panic!("host bug");
            }
        },
        C,
        HostWork::NonBlocking,
    )
    .await;
    assert!(lost.is_none());
    assert!(
        Turn::take(C, HostWork::NonBlocking).is_ok(),
        "the turn is given back"
    );
}

/// Runs `call` started here and says whether its first poll ran on the asking thread.
async fn ran_here(work: HostWork) -> bool {
    ran_here_as(C, work).await
}

/// [`ran_here`] for a call of `component`.
async fn ran_here_as(component: &str, work: HostWork) -> bool {
    let here = thread_name();
    let name = run_starting_here(async { thread_name() }, component, work).await;
    name.flatten() == here
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_turn_left_a_call_hops_as_before() {
    let _turns = TURNS.lock().await;
    full_budget();
    let held: Vec<_> = (0..MAX_STARTING_HERE)
        .filter_map(|_| Turn::take(C, HostWork::NonBlocking).ok())
        .collect();
    assert_eq!(held.len(), MAX_STARTING_HERE);
    assert_eq!(
        Turn::take(C, HostWork::NonBlocking).err(),
        Some(Skip::TurnTaken)
    );
    assert!(!ran_here(HostWork::NonBlocking).await);
    drop(held);
    assert!(
        ran_here(HostWork::NonBlocking).await,
        "turns come back when dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_with_granted_files_always_hops() {
    let _turns = TURNS.lock().await;
    full_budget();
    let files = counts().1[3].1;
    assert!(!ran_here(HostWork::MayBlock).await);
    assert_eq!(counts().1[3], ("files", files + 1));
}

#[tokio::test(flavor = "current_thread")]
async fn on_a_single_threaded_runtime_a_call_hops() {
    let _turns = TURNS.lock().await;
    full_budget();
    assert!(!ran_here(HostWork::NonBlocking).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_the_budget_is_spent_calls_hop_until_it_refills() {
    let _turns = TURNS.lock().await;
    full_budget();
    // A first poll that took twice the burst (a long host operation) leaves a debt.
    Turn::take(C, HostWork::NonBlocking)
        .unwrap()
        .finish(BURST * 2);
    assert!(!ran_here(HostWork::NonBlocking).await);
    assert_eq!(
        Turn::take(C, HostWork::NonBlocking).err(),
        Some(Skip::Budget)
    );
    full_budget();
    assert!(ran_here(HostWork::NonBlocking).await);
}

#[test]
fn the_budget_refills_at_its_share_of_wall_time_up_to_the_burst() {
    let burst = BURST.as_nanos() as i64;
    let t0 = Instant::now();
    let mut budget = Budget {
        credit_ns: burst,
        refilled: Some(t0),
    };
    budget.charge(BURST + Duration::from_millis(10));
    assert!(!budget.has_credit(t0), "10 ms in debt");
    // Calls start again at MIN_CREDIT: after (10 ms + MIN_CREDIT) × 100 / SHARE_PERCENT.
    let owed = Duration::from_millis(10) + MIN_CREDIT;
    let payback = owed * 100 / SHARE_PERCENT;
    assert!(!budget.has_credit(t0 + payback - Duration::from_millis(1)));
    assert!(budget.has_credit(t0 + payback + Duration::from_millis(1)));
    // Idle for an hour: the credit stops at the burst.
    assert!(budget.has_credit(t0 + Duration::from_secs(3600)));
    assert_eq!(budget.credit_ns, burst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_poll_is_charged_to_the_budget() {
    let _turns = TURNS.lock().await;
    full_budget();
    let slow = run_starting_here(
        async { std::thread::sleep(BURST * 2) },
        "skill slow-once",
        HostWork::NonBlocking,
    );
    assert!(slow.await.is_some());
    assert_eq!(
        Turn::take(C, HostWork::NonBlocking).err(),
        Some(Skip::Budget)
    );
    full_budget();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_whose_first_poll_ran_long_is_barred_and_others_are_not() {
    let _turns = TURNS.lock().await;
    full_budget();
    let hog = "skill hog";
    let here = thread_name();
    let first = run_starting_here(
        async {
            std::thread::sleep(BAR_AFTER + Duration::from_millis(5));
            thread_name()
        },
        hog,
        HostWork::NonBlocking,
    )
    .await;
    assert_eq!(first.flatten(), here, "its first call did start here");
    full_budget();
    let barred_before = counts().1[4].1;
    assert!(
        !ran_here_as(hog, HostWork::NonBlocking).await,
        "barred from now on"
    );
    assert!(counts().1[4].1 > barred_before, "counted as barred");
    assert!(ran_here_as("skill other", HostWork::NonBlocking).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_nested_in_a_first_poll_does_not_start_here() {
    let _turns = TURNS.lock().await;
    full_budget();
    let nested = starting_here(async {
        run_starting_here(async { may_start_here() }, C, HostWork::NonBlocking).await
    })
    .await;
    assert_eq!(nested, Some(false));
}
