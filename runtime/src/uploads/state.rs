//! The upload store's shared bookkeeping and how it is held: one `std` mutex over a few
//! fields, held only to read or change them — never across file I/O, so a runtime worker
//! that takes it (a message noting its context for a sweep) never waits behind the disk.
//! The file work of a store or a removal runs on a blocking thread under a [`Claim`] on its
//! context: one store or removal per context at a time (a message's store waits on the
//! condition variable while a sweep removes its context, and a sweep skips a context being
//! written). Workspace-wide limits are kept exact by reserving a message's bytes in the
//! running totals before its files are written (and giving them back if the write fails).

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};

use super::totals::Totals;

/// What the lock guards.
#[derive(Default)]
pub(super) struct State {
    /// The running totals; `None` until first counted.
    pub(super) totals: Option<Totals>,
    /// While a sweep runs: the folder names of the contexts messages reached since it began
    /// (it spares them). `None` otherwise, so nothing grows between sweeps.
    pub(super) touched: Option<HashSet<String>>,
    /// Folder names of the contexts a store is writing or a sweep is removing now.
    busy: HashSet<String>,
}

/// The lock and the condition variable a store waits on for its context to be free.
#[derive(Default)]
pub(super) struct Shared {
    state: Mutex<State>,
    freed: Condvar,
}

impl Shared {
    /// The bookkeeping (a poisoned lock is taken as is: every change is one field write).
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Claims the context folder `name` for a store, waiting (blocking: call it on a
    /// blocking thread) while a store or a removal holds it.
    pub(super) fn claim<'a>(&'a self, name: &str) -> Claim<'a> {
        let mut state = self.lock();
        while state.busy.contains(name) {
            state = self.freed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.busy.insert(name.to_owned());
        Claim {
            shared: self,
            name: name.to_owned(),
        }
    }

    /// Claims the context folder `name` for a removal, unless a message reached it since
    /// the sweep began or a store is writing it (`None`: the sweep leaves it).
    pub(super) fn claim_for_removal<'a>(&'a self, name: &str) -> Option<Claim<'a>> {
        let mut state = self.lock();
        let touched = state.touched.as_ref().is_some_and(|t| t.contains(name));
        if touched || !state.busy.insert(name.to_owned()) {
            return None;
        }
        Some(Claim {
            shared: self,
            name: name.to_owned(),
        })
    }

    /// The running totals, counted from `root` (outside the lock) the first time. Exact: no
    /// store writes and no removal subtracts before the totals exist.
    /// Errors: reading `root`.
    pub(super) fn totals(&self, root: &Path) -> std::io::Result<Totals> {
        if let Some(t) = self.lock().totals {
            return Ok(t);
        }
        let counted = Totals::scan(root)?;
        Ok(*self.lock().totals.get_or_insert(counted))
    }
}

/// A context folder held by one store or removal; released (and the waiters woken) on drop.
pub(super) struct Claim<'a> {
    shared: &'a Shared,
    name: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.shared.lock().busy.remove(&self.name);
        self.shared.freed.notify_all();
    }
}
