//! Tests of [`super`]: where a started-here call runs, when it hops instead, the budget and
//! the bar. Every test names its own component, so a bar one test earns (a slow poll on a
//! loaded machine) cannot change another's outcome.

use super::*;
use crate::scheduler::pool::{note_epoch_yield, BATCH_THREAD, INTERACTIVE_THREAD, SLICE_TICKS};

/// The turns and the budget are process-wide: these tests take them one at a time.
static TURNS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn thread_name() -> Option<String> {
    std::thread::current().name().map(str::to_owned)
}

/// Fills the process-wide budget (a test before may have spent it).
fn full_budget() {
    let mut budget = BUDGET.lock().unwrap();
    budget.credit_ns = BURST.as_nanos() as i64;
    budget.refilled = None;
}

fn credit_ns() -> i64 {
    BUDGET.lock().unwrap().credit_ns
}

/// Runs a call of `component` started here; true when its first poll ran on this thread.
async fn ran_here(component: &str, work: HostWork) -> bool {
    let here = thread_name();
    let name = run_starting_here(async { thread_name() }, component, work).await;
    name.flatten() == here
}

/// Spins this thread for `cpu` of CPU time.
fn spin_for(cpu: Duration) {
    let start = crate::receipt::thread_cpu().expect("a thread CPU clock");
    while crate::receipt::thread_cpu().unwrap() - start < cpu {
        std::hint::spin_loop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_is_ready_at_once_answers_on_the_asking_thread() {
    let _turns = TURNS.lock().await;
    full_budget();
    let answered = counts().0[0].1;
    let here = thread_name();
    let name = starting_here(async {
        assert!(may_start_here());
        let call = async { thread_name() };
        run_starting_here(call, "skill ready", HostWork::NonBlocking).await
    })
    .await;
    assert_eq!(name.flatten(), here);
    assert!(!may_start_here());
    let turns = STARTED_HERE.load(Ordering::Acquire);
    assert_eq!(turns, 0, "the turn is given back");
    assert_eq!(counts().0[0].1, answered + 1, "counted as answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_yields_moves_to_the_pool_with_its_ticks() {
    let _turns = TURNS.lock().await;
    full_budget();
    let here = thread_name();
    let call = async {
        let mut seen = Vec::new();
        for _ in 0..(SLICE_TICKS + 2) {
            seen.push(thread_name());
            note_epoch_yield();
            tokio::task::yield_now().await;
        }
        seen
    };
    let seen = run_starting_here(call, "skill yields", HostWork::NonBlocking)
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
    let call = async { (thread_name(), tokio::spawn(async { thread_name() })) };
    let (polled_on, spawned) = run_starting_here(call, "skill spawns", HostWork::NonBlocking)
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
    let call = async move {
        if thread_name() == here {
            panic!("host bug");
        }
    };
    let lost = run_starting_here(call, "skill panics", HostWork::NonBlocking).await;
    assert!(lost.is_none());
    assert!(
        !IN_FIRST_POLL.with(Cell::get),
        "the first-poll flag is reset"
    );
    assert_eq!(
        STARTED_HERE.load(Ordering::Acquire),
        0,
        "the turn is given back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_turn_left_a_call_hops_as_before() {
    let _turns = TURNS.lock().await;
    full_budget();
    let c = "skill waits-turn";
    let held: Vec<_> = (0..MAX_STARTING_HERE)
        .filter_map(|_| Turn::take(c, HostWork::NonBlocking).ok())
        .collect();
    assert_eq!(held.len(), MAX_STARTING_HERE);
    let refused = Turn::take(c, HostWork::NonBlocking).err();
    assert_eq!(refused, Some(Skip::TurnTaken));
    assert!(!ran_here(c, HostWork::NonBlocking).await);
    drop(held);
    assert!(
        ran_here(c, HostWork::NonBlocking).await,
        "turns come back when dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_with_granted_files_always_hops() {
    let _turns = TURNS.lock().await;
    full_budget();
    let files = counts().1[3].1;
    assert!(!ran_here("skill files", HostWork::MayBlock).await);
    assert_eq!(counts().1[3], ("files", files + 1));
}

#[tokio::test(flavor = "current_thread")]
async fn on_a_single_threaded_runtime_a_call_hops() {
    let _turns = TURNS.lock().await;
    full_budget();
    let c = "skill one-worker";
    let refused = Turn::take(c, HostWork::NonBlocking).err();
    assert_eq!(refused, Some(Skip::OneWorker));
    assert!(!ran_here(c, HostWork::NonBlocking).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_the_budget_is_spent_calls_hop_until_it_refills() {
    let _turns = TURNS.lock().await;
    full_budget();
    let c = "skill in-debt";
    // A first poll that took forty bursts (a long host operation) leaves a debt of seconds.
    Turn::take(c, HostWork::NonBlocking)
        .unwrap()
        .finish(c, BURST * 40, Some(Duration::ZERO));
    assert!(!ran_here(c, HostWork::NonBlocking).await);
    let refused = Turn::take(c, HostWork::NonBlocking).err();
    assert_eq!(refused, Some(Skip::Budget));
    full_budget();
    assert!(ran_here(c, HostWork::NonBlocking).await);
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
    let call = async { std::thread::sleep(BURST * 2) };
    let slow = run_starting_here(call, "skill sleeps", HostWork::NonBlocking).await;
    assert!(slow.is_some());
    // Charged at least the 100 ms it slept against a 50 ms burst (refills come later).
    assert!(credit_ns() <= -(BURST.as_nanos() as i64), "{}", credit_ns());
    full_budget();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_whose_first_poll_ran_long_is_barred_and_others_are_not() {
    let _turns = TURNS.lock().await;
    full_budget();
    let hog = "skill hog";
    let here = thread_name();
    let call = async {
        spin_for(BAR_AFTER + Duration::from_millis(5));
        thread_name()
    };
    let first = run_starting_here(call, hog, HostWork::NonBlocking).await;
    assert_eq!(first.flatten(), here, "its first call did start here");
    full_budget();
    let barred_before = counts().1[4].1;
    let refused = Turn::take(hog, HostWork::NonBlocking).err();
    assert_eq!(refused, Some(Skip::Barred), "barred from now on");
    assert!(!ran_here(hog, HostWork::NonBlocking).await);
    assert!(counts().1[4].1 > barred_before, "counted as barred");
    assert!(ran_here("skill other", HostWork::NonBlocking).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_that_only_waited_long_does_not_bar_its_component() {
    let _turns = TURNS.lock().await;
    full_budget();
    let sleeper = "skill sleeper";
    let call = async { std::thread::sleep(BAR_AFTER + Duration::from_millis(5)) };
    assert!(run_starting_here(call, sleeper, HostWork::NonBlocking)
        .await
        .is_some());
    full_budget();
    assert!(
        ran_here(sleeper, HostWork::NonBlocking).await,
        "wall time alone bars nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_nested_in_a_first_poll_does_not_start_here() {
    let _turns = TURNS.lock().await;
    full_budget();
    let here = thread_name();
    let nested = starting_here(async {
        let call = async { (thread_name(), may_start_here()) };
        run_starting_here(call, "skill nests", HostWork::NonBlocking).await
    })
    .await;
    let (polled_on, may) = nested.expect("the call returns");
    assert_eq!(polled_on, here, "the outer call's first poll ran here");
    assert!(!may, "a call made inside it may not start here");
}
