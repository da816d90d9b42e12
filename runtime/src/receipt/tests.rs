//! Tests of receipts: summing, the open-call sink, and how `Metered` times polls.

use super::*;

thread_local! {
    /// Reads of the thread CPU clock on this thread (a system call each).
    pub(super) static CLOCK_READS: Cell<u64> = const { Cell::new(0) };
}

#[tokio::test]
async fn an_open_call_adds_its_receipt_when_dropped_and_then_settles() {
    let sink = Receipts::new();
    let mut call = sink.open();
    call.receipt.host_calls = 7;
    let waiter = sink.clone();
    let settled = tokio::spawn(async move {
        waiter.settled().await;
        waiter.total().host_calls
    });
    tokio::task::yield_now().await;
    assert!(!settled.is_finished(), "a call is still open");
    assert_eq!(sink.total().host_calls, 0);
    drop(call);
    assert_eq!(settled.await.unwrap(), 7);
    sink.settled().await;
}

#[test]
fn only_polls_after_the_first_read_the_cpu_clock() {
    let meter = Meter::default();
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    let before = CLOCK_READS.with(Cell::get);
    let mut once = Metered::new(std::future::ready(()), &meter, None);
    assert!(Pin::new(&mut once).poll(&mut cx).is_ready());
    assert_eq!(
        CLOCK_READS.with(Cell::get),
        before,
        "a one-poll call: no system call"
    );
    let mut twice = Metered::new(Spin { polls: 2, ms: 0 }, &meter, None);
    assert!(Pin::new(&mut twice).poll(&mut cx).is_pending());
    assert!(Pin::new(&mut twice).poll(&mut cx).is_ready());
    let reads = CLOCK_READS.with(Cell::get) - before;
    assert!(reads == 2 || cfg!(not(target_os = "linux")), "{reads}");
}

fn sample(n: u64) -> Receipt {
    Receipt {
        wall: Duration::from_millis(n),
        cpu: Duration::from_millis(n),
        peak_memory_bytes: n << 20,
        host_calls: n,
        http_requests: n,
        http_bytes: n * 100,
        log_bytes: n * 10,
        tool_calls: 0,
    }
}

#[test]
fn add_sums_and_nested_keeps_the_wall_time() {
    let mut task = sample(10);
    task.add_nested(&sample(3));
    task.add_nested(&sample(20));
    assert_eq!(
        task.wall,
        Duration::from_millis(10),
        "the adapter's wall encloses"
    );
    assert_eq!(task.cpu, Duration::from_millis(33));
    assert_eq!(task.peak_memory_bytes, 20 << 20, "the largest store");
    assert_eq!((task.host_calls, task.http_bytes), (33, 3300));
    assert_eq!(task.tool_calls, 2);
    let mut two = sample(1);
    two.add(&sample(2));
    assert_eq!((two.wall, two.tool_calls), (Duration::from_millis(3), 0));
    let json = task.to_json();
    assert_eq!(json["cpu_ms"], 33.0);
    assert_eq!(json["tool_calls"], 2);
    assert_eq!(json.as_object().map(|o| o.len()), Some(SPAN_FIELDS.len()));
    let waited = task.to_task_json(Duration::from_micros(1500));
    assert_eq!(waited["waited_ms"], 1.5);
    assert_eq!(waited["cpu_ms"], 33.0);
}

#[test]
fn a_sink_sums_calls_and_nested_calls() {
    let sink = Receipts::new();
    sink.add(&sample(5));
    sink.add_nested(&sample(1));
    let total = sink.total();
    assert_eq!(total.wall, Duration::from_millis(5));
    assert_eq!(total.host_calls, 6);
    assert_eq!(total.tool_calls, 1);
}

/// A future that spins for `ms` of CPU on each of `polls` polls, then is ready.
struct Spin {
    polls: u32,
    ms: u64,
}

impl Future for Spin {
    type Output = Option<Arc<Receipts>>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let until = Instant::now() + Duration::from_millis(self.ms);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        self.polls -= 1;
        if self.polls == 0 {
            return Poll::Ready(current());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[tokio::test]
async fn metered_times_every_poll_and_sets_the_current_sink() {
    let meter = Meter::default();
    let sink = Receipts::new();
    let seen = Metered::new(Spin { polls: 3, ms: 5 }, &meter, Some(sink.clone())).await;
    assert!(seen.is_some_and(|s| Arc::ptr_eq(&s, &sink)));
    assert!(current().is_none(), "restored after the poll");
    let cpu = meter.cpu();
    // Three polls of 5 ms of spinning; CPU can only be less than wall when preempted.
    assert!(
        cpu > Duration::ZERO && cpu <= Duration::from_millis(200),
        "{cpu:?}"
    );
}

#[tokio::test]
async fn a_nested_metered_poll_is_not_counted_twice() {
    let (outer, inner) = (Meter::default(), Meter::default());
    let nested = async {
        Metered::new(Spin { polls: 1, ms: 20 }, &inner, None).await;
    };
    Metered::new(Box::pin(nested), &outer, None).await;
    assert!(inner.cpu() >= Duration::from_millis(1), "{:?}", inner.cpu());
    assert!(
        outer.cpu() < inner.cpu(),
        "outer {:?} excludes inner {:?}",
        outer.cpu(),
        inner.cpu()
    );
}

#[test]
fn a_task_receipt_reads_back_from_its_json() {
    let receipt = Receipt {
        wall: Duration::from_micros(12_345),
        cpu: Duration::from_micros(2_500),
        peak_memory_bytes: 1 << 20,
        host_calls: 42,
        http_requests: 1,
        http_bytes: 99,
        log_bytes: 7,
        tool_calls: 2,
    };
    let json = receipt.to_task_json(Duration::from_millis(3));
    assert_eq!(
        Receipt::from_task_json(&json),
        Some((receipt, Duration::from_millis(3)))
    );
    assert_eq!(Receipt::from_task_json(&serde_json::json!("x")), None);
    let damaged = serde_json::json!({"wall_ms": -1, "host_calls": "many"});
    assert_eq!(
        Receipt::from_task_json(&damaged),
        Some((Receipt::default(), Duration::ZERO))
    );
}

/// A future that panics when polled.
struct Panics;

impl Future for Panics {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        panic!("host bug in a call");
    }
}

#[test]
fn a_poll_that_panics_puts_the_outer_sink_back() {
    let (outer_meter, inner_meter) = (Meter::default(), Meter::default());
    let (outer_sink, inner_sink) = (Receipts::new(), Receipts::new());
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut seen = None;
    let mut outer = Metered::new(
        Box::pin(std::future::poll_fn(|cx| {
            // Nested time the outer call measured so far, which the panicked poll must put back.
            NESTED.with(|n| n.set(123));
            let mut inner = Metered::new(Panics, &inner_meter, Some(inner_sink.clone()));
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Pin::new(&mut inner).poll(cx)
            }));
            assert!(caught.is_err());
            seen = current();
            assert_eq!(
                NESTED.with(Cell::get),
                123,
                "the outer poll's nested time is back"
            );
            Poll::Ready(())
        })),
        &outer_meter,
        Some(outer_sink.clone()),
    );
    assert!(Pin::new(&mut outer).poll(&mut cx).is_ready());
    drop(outer);
    let seen = seen.expect("a sink is current inside the outer call");
    assert!(
        Arc::ptr_eq(&seen, &outer_sink),
        "the outer sink, not the panicked call's"
    );
    assert!(current().is_none(), "nothing left on the thread");
}
