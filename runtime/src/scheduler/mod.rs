//! Scheduling of guest calls across a workspace: [`admission`] decides when a call may start
//! (slots, a bounded FIFO queue), [`memory`] bounds the guest memory of every live call
//! together, and [`pool`] is where it
//! runs (guest threads of their own, below the server's priority, with CPU-bound calls moved
//! to a batch lane). `sandbox.rs` puts both on the one path of every call.

pub mod admission;
mod gauges;
pub mod memory;
pub mod pool;

pub use admission::{Admission, AdmissionConfig, Busy, Permit};
pub use gauges::gauges;
pub use memory::{GuestMemory, MemoryLease};
