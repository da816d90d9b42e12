//! Scheduling of guest calls across a workspace: [`admission`] decides when a call may start
//! (slots, a bounded FIFO queue), [`memory`] bounds the guest memory of every live call
//! together, and [`pool`] is where it
//! runs (guest threads of their own, below the server's priority, with CPU-bound calls moved
//! to a batch lane), except the first poll of an MCP tool call, which [`start_here`] may run
//! on the thread that received it. `sandbox.rs` puts them on the one path of every call.

pub mod admission;
mod gauges;
pub mod memory;
pub mod pool;
pub mod start_here;

pub use admission::{Admission, AdmissionConfig, Busy, Permit};
pub use gauges::gauges;
pub use memory::{GuestMemory, MemoryLease};
