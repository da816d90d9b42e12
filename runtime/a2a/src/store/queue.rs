//! The task store's job queue: FIFO, filled from any thread, emptied in batches by the store
//! thread. It wakes that thread only when there is something to do now — the first job into an
//! idle queue, a read, a write someone is waiting on, a full batch, or shutdown. Writes no one
//! waits on yet (progress of a running task) may linger to share a commit (group commit);
//! writes someone waits on share a commit only with what queued while the thread was busy.
//! A task has at most one write queued since the last read: a newer write of it replaces the
//! queued one (and takes over its waiters, so the one commit answers them all), so a task
//! changing faster than the store commits costs one pending copy, not one per change.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::durable::Ack;
use super::sql::Row;

/// The queue refuses jobs: every store handle is gone.
#[derive(Debug)]
pub(super) struct QueueClosed;

/// Work for the store thread, applied in queue order.
pub(super) enum Job {
    /// Insert or replace one task row; each of `acks` gets the outcome once known.
    Put {
        /// The row.
        row: Row,
        /// Where the outcome goes: the waiters of this write and of the writes it replaced.
        acks: Vec<Ack>,
        /// A reply waits on this write: commit without lingering.
        urgent: bool,
    },
    /// Run arbitrary SQL work (reads, startup repairs, retention).
    Run(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// Most jobs applied in one transaction.
pub(super) const MAX_BATCH: usize = 512;

/// How long the store thread waits for more writes before committing a batch that holds only
/// writes no one waits on. A read, an urgent write, a full batch or shutdown ends the wait at
/// once, so neither reads nor replies wait for it.
pub(super) const LINGER: Duration = Duration::from_millis(2);

/// What the store thread is doing, as far as producers need to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Consumer {
    /// Applying a batch; it looks at the queue again when done.
    Busy,
    /// Waiting for the first job.
    Idle,
    /// Gathering writes until the linger ends.
    Lingering,
}

struct State {
    jobs: VecDeque<Job>,
    /// `Job::Run`s and urgent `Job::Put`s in `jobs`: jobs that end a linger.
    urgent: usize,
    consumer: Consumer,
    closed: bool,
}

/// The queue shared by the [`Producer`]s and the store thread.
pub(super) struct Queue {
    state: Mutex<State>,
    wake: Condvar,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Queue {
    /// An empty, open queue.
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Queue {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                urgent: 0,
                consumer: Consumer::Busy,
                closed: false,
            }),
            wake: Condvar::new(),
        })
    }

    /// Appends `job`, waking the store thread if it should act on it now.
    pub(super) fn push(&self, job: Job) -> Result<(), QueueClosed> {
        let mut st = lock(&self.state);
        if st.closed {
            return Err(QueueClosed);
        }
        let job = coalesce(&mut st, job);
        let urgent = is_urgent(&job);
        st.jobs.push_back(job);
        st.urgent += usize::from(urgent);
        let wake = match st.consumer {
            Consumer::Idle => true,
            Consumer::Lingering => urgent || st.jobs.len() >= MAX_BATCH,
            Consumer::Busy => false,
        };
        drop(st);
        if wake {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Refuses further jobs; the store thread drains what is queued, then stops.
    fn close(&self) {
        lock(&self.state).closed = true;
        self.wake.notify_one();
    }

    /// The next batch, in queue order: everything queued (up to [`MAX_BATCH`]), after waiting
    /// up to [`LINGER`] for more when it holds only writes no one waits on. `None` once closed
    /// and drained.
    pub(super) fn next_batch(&self) -> Option<Vec<Job>> {
        let mut st = lock(&self.state);
        while st.jobs.is_empty() {
            if st.closed {
                return None;
            }
            st.consumer = Consumer::Idle;
            st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        if st.urgent == 0 && st.jobs.len() < MAX_BATCH && !st.closed {
            st.consumer = Consumer::Lingering;
            let deadline = Instant::now() + LINGER;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || st.urgent > 0 || st.jobs.len() >= MAX_BATCH || st.closed {
                    break;
                }
                st = self
                    .wake
                    .wait_timeout(st, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        st.consumer = Consumer::Busy;
        let n = st.jobs.len().min(MAX_BATCH);
        let batch: Vec<Job> = st.jobs.drain(..n).collect();
        st.urgent -= batch.iter().filter(|j| is_urgent(j)).count();
        Some(batch)
    }
}

/// `job`, having taken over the queued write of the same task it replaces (removed from the
/// queue; its waiters and urgency carried over). Only writes after the last queued read or
/// other work are replaced, so that work still sees every write queued before it.
fn coalesce(st: &mut State, job: Job) -> Job {
    let Job::Put {
        row,
        mut acks,
        mut urgent,
    } = job
    else {
        return job;
    };
    let mut found = None;
    for (i, queued) in st.jobs.iter().enumerate().rev() {
        match queued {
            Job::Run(_) => break,
            Job::Put { row: old, .. } if old.task.id == row.task.id => {
                found = Some(i);
                break;
            }
            Job::Put { .. } => {}
        }
    }
    if let Some(Job::Put {
        acks: older,
        urgent: was_urgent,
        ..
    }) = found.and_then(|i| st.jobs.remove(i))
    {
        st.urgent -= usize::from(was_urgent);
        urgent |= was_urgent;
        let mut all = older;
        all.append(&mut acks);
        acks = all;
    }
    Job::Put { row, acks, urgent }
}

/// Whether `job` ends a linger: a read or other work, or a write a reply waits on.
fn is_urgent(job: &Job) -> bool {
    match job {
        Job::Run(_) => true,
        Job::Put { urgent, .. } => *urgent,
    }
}

/// A queued write of a WORKING task `id` (unit tests of the queue and the worker).
#[cfg(test)]
pub(super) fn test_put(id: &str) -> Job {
    let (ack, _) = super::durable::Durable::pending("test".into());
    Job::Put {
        acks: vec![ack],
        urgent: false,
        row: Row {
            updated_ms: 0,
            task: Box::new(crate::types::Task {
                id: id.into(),
                context_id: "c".into(),
                status: crate::types::TaskStatus {
                    state: crate::types::TaskState::Working,
                    message: None,
                    timestamp: None,
                },
                artifacts: None,
                history: None,
                metadata: None,
            }),
        },
    }
}

/// The producers' handle; the queue closes when the last clone of the `Arc` is dropped.
pub(super) struct Producer(pub(super) Arc<Queue>);

impl Drop for Producer {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    use super::test_put as put;
    use super::*;

    #[test]
    fn batches_keep_order_and_the_cap() {
        let queue = Queue::new();
        for i in 0..MAX_BATCH + 5 {
            queue.push(put(&i.to_string())).unwrap();
        }
        queue.push(Job::Run(Box::new(|_| {}))).unwrap();
        let first = queue.next_batch().unwrap();
        assert_eq!(first.len(), MAX_BATCH);
        assert!(matches!(&first[0], Job::Put { row, .. } if row.task.id == "0"));
        let rest = queue.next_batch().unwrap();
        assert_eq!(rest.len(), 6);
        assert!(matches!(&rest[0], Job::Put { row, .. } if row.task.id == MAX_BATCH.to_string()));
        assert!(matches!(rest.last(), Some(Job::Run(_))));
    }

    #[test]
    fn closing_drains_then_stops_and_refuses_new_jobs() {
        let queue = Queue::new();
        let producer = Producer(queue.clone());
        producer.0.push(put("a")).unwrap();
        drop(producer);
        assert!(matches!(queue.push(put("b")), Err(QueueClosed)));
        assert_eq!(queue.next_batch().map(|b| b.len()), Some(1));
        assert!(queue.next_batch().is_none());
    }

    #[test]
    fn a_read_wakes_a_lingering_consumer() {
        let queue = Queue::new();
        queue.push(put("a")).unwrap();
        let consumer = {
            let queue = queue.clone();
            std::thread::spawn(move || queue.next_batch().map(|b| b.len()))
        };
        queue.push(Job::Run(Box::new(|_| {}))).unwrap();
        // Whether the read joined the first batch or not, nothing is lost or reordered.
        let n = consumer.join().unwrap().unwrap();
        let rest = if n < 2 {
            queue.next_batch().unwrap().len()
        } else {
            0
        };
        assert_eq!(n + rest, 2);
    }

    #[test]
    fn flipping_states_keep_one_queued_write_per_task() {
        use crate::types::TaskState;
        let queue = Queue::new();
        for i in 0..2000 {
            let mut job = put("t");
            if let Job::Put { row, urgent, .. } = &mut job {
                row.task.status.state = if i % 2 == 0 {
                    TaskState::Submitted
                } else {
                    TaskState::Working
                };
                *urgent = i == 7;
            }
            queue.push(job).unwrap();
            queue.push(put("other")).unwrap();
        }
        let batch = queue.next_batch().unwrap();
        assert_eq!(batch.len(), 2, "one write per task, not one per change");
        let Some(Job::Put { row, acks, urgent }) = batch
            .iter()
            .find(|j| matches!(j, Job::Put { row, .. } if row.task.id == "t"))
        else {
            panic!("the task's write is queued")
        };
        assert_eq!(row.task.status.state, TaskState::Working, "the newest wins");
        assert_eq!(
            acks.len(),
            2000,
            "every waiter is answered by the one write"
        );
        assert!(*urgent, "an urgent write replaced stays urgent");
        assert_eq!(lock(&queue.state).urgent, 0);
    }

    #[test]
    fn a_write_queued_before_a_read_is_not_replaced() {
        let queue = Queue::new();
        queue.push(put("t")).unwrap();
        queue.push(Job::Run(Box::new(|_| {}))).unwrap();
        queue.push(put("t")).unwrap();
        queue.push(put("t")).unwrap();
        let batch = queue.next_batch().unwrap();
        let kinds: Vec<bool> = batch.iter().map(|j| matches!(j, Job::Put { .. })).collect();
        assert_eq!(
            kinds,
            [true, false, true],
            "the read still sees the write before it"
        );
    }
}
