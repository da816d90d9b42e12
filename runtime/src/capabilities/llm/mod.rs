//! `llm`: the model gateway. Components ask for completions; the backend (a provider client
//! in the host) holds the credentials, so no guest ever sees an API key.
//!
//! Each call is budgeted ([`LlmCtx`]): model requests per call
//! (`sandbox.llm.max_requests_per_call`) and chat streams open at once
//! (`sandbox.llm.max_open_streams`); a request past either is refused with the budget error
//! before it reaches the backend.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use wasmtime::component::{HasData, Resource, ResourceTable};

use crate::bindings::imports::molecule::runtime::llm::{
    self, ChatRequest, ChatResponse, StreamEvent,
};
use crate::bindings::HostError;
use crate::budgets::{Budget, BudgetHit, Budgets};

use super::grant::Granted;

mod gateway;
mod unavailable;
pub use self::gateway::GatewayBackend;
pub use self::unavailable::{model_access, NoModel};

pub use crate::bindings::ChatStream;

/// Answers completion requests.
#[async_trait]
pub trait LlmBackend: Send + Sync {
    /// Runs a completion to the end.
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse, HostError>;
    /// Starts a streamed completion.
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, HostError>;
}

/// The `llm` capability of one store (one call), within the call's model budgets.
pub struct LlmCtx {
    granted: Granted<dyn LlmBackend>,
    max_requests: u64,
    max_streams: u64,
    requests: AtomicU64,
    open_streams: AtomicU64,
}

impl LlmCtx {
    /// `granted` within `budgets.llm_requests` requests per call and `budgets.llm_streams`
    /// streams open at once.
    pub fn new(granted: Granted<dyn LlmBackend>, budgets: &Budgets) -> Self {
        LlmCtx {
            granted,
            max_requests: budgets.llm_requests,
            max_streams: budgets.llm_streams,
            requests: AtomicU64::new(0),
            open_streams: AtomicU64::new(0),
        }
    }

    /// The backend (or `denied`), after taking one request from the call's budget.
    ///
    /// # Errors
    /// `denied` when `llm` is not granted; the budget error (naming
    /// `sandbox.llm.max_requests_per_call`) past the budget.
    fn take_request(&self) -> Result<Arc<dyn LlmBackend>, HostError> {
        let backend = self.granted.get()?;
        take(&self.requests, self.max_requests, Budget::LlmRequests)?;
        Ok(backend)
    }

    /// Takes one open stream from the budget (given back by [`LlmCtx::close_stream`]).
    fn open_stream(&self) -> Result<(), HostError> {
        take(&self.open_streams, self.max_streams, Budget::LlmStreams)
    }

    /// Gives back one open stream.
    fn close_stream(&self) {
        let _ = self
            .open_streams
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// Adds one to `count` if it stays within `max`; otherwise the budget error (counted in
/// `/metrics`).
fn take(count: &AtomicU64, max: u64, budget: Budget) -> Result<(), HostError> {
    count
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < max).then_some(n + 1)
        })
        .map(drop)
        .map_err(|_| HostError::Failed(BudgetHit::record(budget, max).to_string()))
}

/// What the `llm` host code sees of a store: its capability and the store's resource table
/// (for chat streams), as wasmtime's `WasiCtxView` does for WASI.
pub struct LlmView<'a> {
    /// The capability.
    pub ctx: &'a LlmCtx,
    /// The store's resource table.
    pub table: &'a mut ResourceTable,
}

/// [`HasData`] for linking `llm` with an [`LlmView`] of the store.
pub struct LlmData;

impl HasData for LlmData {
    type Data<'a> = LlmView<'a>;
}

impl llm::Host for LlmView<'_> {
    async fn complete(&mut self, request: ChatRequest) -> Result<ChatResponse, HostError> {
        self.ctx.take_request()?.complete(request).await
    }

    async fn stream(&mut self, request: ChatRequest) -> Result<Resource<ChatStream>, HostError> {
        let backend = self.ctx.take_request()?;
        self.ctx.open_stream()?;
        let opened = match backend.stream(request).await {
            Ok(stream) => self
                .table
                .push(stream)
                .map_err(|e| HostError::Failed(format!("too many open resources: {e}"))),
            Err(err) => Err(err),
        };
        if opened.is_err() {
            self.ctx.close_stream();
        }
        opened
    }
}

impl llm::HostChatStream for LlmView<'_> {
    async fn next(
        &mut self,
        stream: Resource<ChatStream>,
    ) -> Result<Option<StreamEvent>, HostError> {
        let stream = self
            .table
            .get_mut(&stream)
            .map_err(|e| HostError::InvalidInput(format!("unknown chat stream: {e}")))?;
        if stream.finished {
            return Ok(None);
        }
        match stream.events.recv().await {
            Some(Ok(event)) => {
                if matches!(event, StreamEvent::Done(_)) {
                    stream.finished = true;
                }
                Ok(Some(event))
            }
            Some(Err(err)) => {
                stream.finished = true;
                Err(err)
            }
            None => {
                stream.finished = true;
                Err(HostError::Failed(
                    "the model stream ended without a final response".into(),
                ))
            }
        }
    }

    async fn drop(&mut self, stream: Resource<ChatStream>) -> wasmtime::Result<()> {
        self.table.delete(stream)?;
        self.ctx.close_stream();
        Ok(())
    }
}

/// The budgets alone, with a backend that counts the requests reaching it.
#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::capabilities::Denial;
    use llm::{Host as _, HostChatStream as _};

    #[derive(Default)]
    struct Count(AtomicUsize);

    #[async_trait]
    impl LlmBackend for Count {
        async fn complete(&self, _: ChatRequest) -> Result<ChatResponse, HostError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Err(HostError::Failed("reached the backend".into()))
        }
        async fn stream(&self, _: ChatRequest) -> Result<ChatStream, HostError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(ChatStream::new(tokio::sync::mpsc::channel(1).1))
        }
    }

    fn request() -> ChatRequest {
        ChatRequest {
            model: None,
            messages: vec![],
            tools: vec![],
            max_tokens: None,
            temperature: None,
        }
    }

    fn ctx(backend: Arc<Count>, llm_requests: u64, llm_streams: u64) -> LlmCtx {
        let budgets = Budgets {
            llm_requests,
            llm_streams,
            ..Budgets::default()
        };
        let granted = Granted::new(
            "llm",
            Some(backend as Arc<dyn LlmBackend>),
            Denial::new("skill t", "config.yaml"),
        );
        LlmCtx::new(granted, &budgets)
    }

    fn budget_error(err: HostError) -> String {
        match err {
            HostError::Failed(text) if text.starts_with("budget spent") => text,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn requests_past_the_call_budget_are_refused_before_the_backend() {
        let backend = Arc::new(Count::default());
        let ctx = ctx(backend.clone(), 3, 8);
        let mut table = ResourceTable::new();
        let mut view = LlmView {
            ctx: &ctx,
            table: &mut table,
        };
        for _ in 0..2 {
            assert!(view.complete(request()).await.is_err());
        }
        let stream = view.stream(request()).await.expect("third request fits");
        let text = budget_error(view.complete(request()).await.expect_err("fourth"));
        assert!(
            text.contains("model requests per call is limited to 3"),
            "{text}"
        );
        assert!(text.contains("sandbox.llm.max_requests_per_call"), "{text}");
        view.drop(stream).await.expect("drop");
        let again = view
            .stream(request())
            .await
            .expect_err("closing gives no request back");
        assert!(budget_error(again).contains("sandbox.llm.max_requests_per_call"));
        assert_eq!(
            backend.0.load(Ordering::Relaxed),
            3,
            "refused ones never arrive"
        );
    }

    #[tokio::test]
    async fn open_streams_are_bounded_and_closing_one_frees_its_place() {
        let backend = Arc::new(Count::default());
        let ctx = ctx(backend.clone(), 100, 2);
        let mut table = ResourceTable::new();
        let mut view = LlmView {
            ctx: &ctx,
            table: &mut table,
        };
        let first = view.stream(request()).await.expect("first");
        let _second = view.stream(request()).await.expect("second");
        let text = budget_error(view.stream(request()).await.expect_err("third at once"));
        assert!(
            text.contains("open model streams per call is limited to 2"),
            "{text}"
        );
        assert!(text.contains("sandbox.llm.max_open_streams"), "{text}");
        view.drop(first).await.expect("drop");
        view.stream(request())
            .await
            .expect("a closed stream frees its place");
        assert_eq!(backend.0.load(Ordering::Relaxed), 3);
    }
}
