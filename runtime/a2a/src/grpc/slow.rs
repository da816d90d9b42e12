//! A bound on what a gRPC stream whose reader stops reading can make the server hold.
//!
//! A task's events reach each of its streams through an unbounded queue (`manager/`), and
//! HTTP/2 flow control stops tonic from taking more from a stream once the client's window
//! is full, while the client still answers PINGs, so the connection stays up. Without a
//! bound, every event the task produces would then wait in that queue for as long as the
//! client keeps the stream open. The A2A port ends a connection whose client reads nothing
//! for `body_timeout` (its write deadline, `listen/timed.rs`); here [`bounded`] moves a
//! stream's events into a queue of [`GRPC_STREAM_BUFFER`] events and ends the stream with
//! `RESOURCE_EXHAUSTED` once that queue has stayed full for the same `body_timeout`,
//! dropping the task's queue for it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tonic::Status;

/// Events a gRPC stream may have waiting for its reader before the stall deadline applies.
pub const GRPC_STREAM_BUFFER: usize = 64;

/// `events`, read ahead by a task of its own into a queue of [`GRPC_STREAM_BUFFER`] items.
/// When the queue stays full for `stall` (the reader took nothing for that long), the task
/// stops reading `events` (dropping it) and the stream ends, after what is queued, with
/// `RESOURCE_EXHAUSTED` saying so. Dropping the returned stream (the client went away) also
/// drops `events`.
pub(super) fn bounded<T, S>(events: S, stall: Duration) -> impl Stream<Item = Result<T, Status>>
where
    T: Send + 'static,
    S: Stream<Item = Result<T, Status>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(GRPC_STREAM_BUFFER);
    let stalled = Arc::new(AtomicBool::new(false));
    let flag = stalled.clone();
    tokio::spawn(async move {
        let mut events = Box::pin(events);
        loop {
            let next = tokio::select! {
                next = events.next() => next,
                () = tx.closed() => return,
            };
            let Some(item) = next else { return };
            match tokio::time::timeout(stall, tx.send(item)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return, // the reader is gone
                Err(_) => {
                    tracing::debug!(
                        ?stall,
                        "a2a grpc: stream reader took nothing; ending the stream"
                    );
                    flag.store(true, Ordering::Release);
                    return;
                }
            }
        }
    });
    futures::stream::unfold(Some(rx), move |rx| {
        let stalled = stalled.clone();
        async move {
            let mut rx = rx?;
            match rx.recv().await {
                Some(item) => Some((item, Some(rx))),
                None if stalled.load(Ordering::Acquire) => Some((
                    Err(Status::resource_exhausted(format!(
                        "stream ended: the client read none of its last {GRPC_STREAM_BUFFER} \
                         events for {stall:?} (a2a.body_timeout)"
                    ))),
                    None,
                )),
                None => None,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_that_takes_nothing_ends_the_stream() {
        let events = futures::stream::iter((0..1000).map(Ok::<u32, Status>));
        let mut out = Box::pin(bounded(events, Duration::from_millis(50)));
        // Nothing is read until the forwarding task has given up.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut got = Vec::new();
        while let Some(item) = out.next().await {
            got.push(item);
        }
        let last = got.pop().expect("items").expect_err("ends with an error");
        assert_eq!(last.code(), tonic::Code::ResourceExhausted);
        assert!(last.message().contains("a2a.body_timeout"), "{last:?}");
        assert_eq!(got.len(), GRPC_STREAM_BUFFER, "only the queue was kept");
    }

    #[tokio::test]
    async fn a_reader_that_keeps_up_gets_everything() {
        let events = futures::stream::iter((0..1000).map(Ok::<u32, Status>));
        let got: Vec<_> = bounded(events, Duration::from_secs(30)).collect().await;
        assert_eq!(got.len(), 1000);
        assert!(got.iter().all(Result::is_ok));
    }
}
