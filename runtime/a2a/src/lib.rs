//! `molecule-a2a`: the A2A server of a Molecule workspace.
//!
//! It speaks A2A 1.0 (JSON-RPC on `POST /` and HTTP+JSON on the REST paths, SSE streaming)
//! and keeps A2A 0.3 clients working (0.3 method names, kind-tagged parts, lowercase roles and
//! states, `final` on status updates). The runtime plugs its agent in through
//! [`AgentExecutor`], gives the card through a swappable [`CardHandle`], and keeps tasks in a
//! SQLite [`TaskStore`]. No reply names a task state before the store has committed it (a
//! failed write is answered as an error), and [`listen::serve`] bounds what a slow or idle
//! client can hold ([`ServeOptions`]: a connection cap, header, body and idle timeouts).
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use molecule_a2a::*;
//! # async fn demo(card: types::AgentCard, exec: Arc<dyn AgentExecutor>) -> anyhow::Result<()> {
//! let store = TaskStore::open(std::path::Path::new("/tmp/tasks.db"), Retention::default())?;
//! let server = A2aServer::new(CardHandle::new(card), exec, store)
//!     .with_bearer_secret(Some("s3cret".into()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! server.serve(listener, std::future::pending()).await?;
//! # Ok(()) }
//! ```

pub mod card;
mod card_extras;
pub mod card_signing;
mod card_v03;
mod compat_v03;
mod compat_v03_auth;
mod compat_v03_push;
mod error;
pub mod executor;
pub mod grpc;
mod http;
mod jsonrpc;
pub mod listen;
mod manager;
mod ops;
mod protojson;
mod push;
mod push_ops;
mod rest;
pub mod server;
mod sse;
mod state;
pub mod store;
pub mod types;

pub use card::CardHandle;
pub use card_extras::ExtendedCard;
pub use executor::{AgentExecutor, EventSink, IntakeError, RequestContext, SinkClosed};
pub use listen::ServeOptions;
pub use push::{PushMetrics, PushOptions};
pub use server::{A2aServer, DEFAULT_BODY_LIMIT};
pub use store::{ContextTasks, Durable, Retention, StoreError, StoreMetrics, TaskStore};
