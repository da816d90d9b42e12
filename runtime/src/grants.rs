//! What one component may do, granted explicitly by a builder: nothing is ambient.
//!
//! A [`Grants`] value is shared by every store of a component version. A capability that is
//! `None` here is still linked, but answers `denied` with a message naming the component, the
//! capability and where the operator grants it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::bindings::HostError;
use crate::capabilities::a2a::A2aBackend;
use crate::capabilities::events::EventsBackend;
use crate::capabilities::heartbeat::HeartbeatBackend;
use crate::capabilities::llm::LlmBackend;
use crate::capabilities::memory::MemoryBackend;
use crate::capabilities::tools::ToolsBackend;
use crate::capabilities::Denial;
use crate::limits::SandboxLimits;
use molecule_egress::{EgressHooks, EgressPolicy, EgressSecrets, SecretBinding};

/// The capabilities granted to one component.
#[derive(Clone)]
pub struct Grants {
    pub(crate) component: Arc<str>,
    pub(crate) grant_hint: Arc<str>,
    pub(crate) limits: SandboxLimits,
    pub(crate) config: Arc<BTreeMap<String, Option<String>>>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) dirs: Vec<DirGrant>,
    pub(crate) memory: Option<Arc<dyn MemoryBackend>>,
    pub(crate) a2a: Option<Arc<dyn A2aBackend>>,
    pub(crate) heartbeat: Option<Arc<dyn HeartbeatBackend>>,
    pub(crate) llm: Option<Arc<dyn LlmBackend>>,
    pub(crate) tools: Option<Arc<dyn ToolsBackend>>,
    pub(crate) events: Option<Arc<dyn EventsBackend>>,
    pub(crate) egress: Option<EgressHooks>,
    /// Whether the task's context uploads are preopened read-only at `/uploads`.
    pub(crate) uploads: bool,
}

impl Grants {
    /// Starts a builder for the component labelled `component` (e.g. `skill json-query`),
    /// with default limits and nothing granted.
    pub fn builder(component: impl Into<String>) -> GrantsBuilder {
        GrantsBuilder {
            grants: Grants {
                component: Arc::from(component.into()),
                grant_hint: Arc::from("the workspace's config.yaml"),
                limits: SandboxLimits::default(),
                config: Arc::default(),
                env: Vec::new(),
                dirs: Vec::new(),
                memory: None,
                a2a: None,
                heartbeat: None,
                llm: None,
                tools: None,
                events: None,
                egress: None,
                uploads: false,
            },
            hosts_key: "the workspace's config.yaml".into(),
            secrets: Vec::new(),
        }
    }

    /// The component label used in logs and errors.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// The config key (or flag) that grants this component outgoing-HTTP origins, as named in
    /// every egress denial: e.g. `grants.skills.web-fetch.hosts`, or `` `--allow-host` ``.
    pub fn hosts_key(&self) -> Option<&str> {
        self.egress.as_ref().map(|hooks| hooks.policy().grant_key())
    }

    /// The limits every call of this component runs under.
    pub fn limits(&self) -> &SandboxLimits {
        &self.limits
    }

    /// The `denied` error for `capability`, naming the component and how to grant it (the
    /// same text every capability's denial has: [`Denial`]).
    pub fn denied(&self, capability: &str) -> HostError {
        self.denial().deny(capability)
    }

    /// The denials of this component (shared text; every store's capabilities hold one).
    pub fn denial(&self) -> Denial {
        Denial::new(self.component.clone(), self.grant_hint.clone())
    }

    /// A copy of these grants for one task: its `events` go to that task, its `tools` see
    /// that task (e.g. `send_message_to_user`), and its model usage is counted for it.
    pub fn for_task(
        &self,
        events: Arc<dyn EventsBackend>,
        tools: Arc<dyn ToolsBackend>,
        llm: Option<Arc<dyn LlmBackend>>,
    ) -> Arc<Grants> {
        let mut grants = self.clone();
        grants.events = Some(events);
        grants.tools = Some(tools);
        if llm.is_some() {
            grants.llm = llm;
        }
        Arc::new(grants)
    }

    /// A copy of these grants with `dirs` preopened too (e.g. a Python skill's own folder and
    /// bytecode cache on top of what the operator granted).
    pub fn with_dirs(&self, dirs: impl IntoIterator<Item = DirGrant>) -> Arc<Grants> {
        let mut grants = self.clone();
        grants.dirs.extend(dirs);
        Arc::new(grants)
    }

    /// Whether this component sees its task's context uploads (read-only at `/uploads`).
    pub fn sees_uploads(&self) -> bool {
        self.uploads
    }

    /// Names of the host interfaces granted (for reports such as `check`).
    pub fn granted_interfaces(&self) -> Vec<&'static str> {
        let mut out = vec!["log"];
        if !self.config.is_empty() {
            out.push("config");
        }
        let optional: [(&'static str, bool); 7] = [
            (
                "http",
                self.egress
                    .as_ref()
                    .is_some_and(|h| !h.policy().origins().is_empty()),
            ),
            ("memory", self.memory.is_some()),
            ("a2a", self.a2a.is_some()),
            ("heartbeat", self.heartbeat.is_some()),
            ("llm", self.llm.is_some()),
            ("tools", self.tools.is_some()),
            ("events", self.events.is_some()),
        ];
        out.extend(optional.iter().filter(|(_, on)| *on).map(|(n, _)| *n));
        if self.uploads {
            out.push("uploads");
        }
        out
    }
}

/// A host directory preopened for a guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the guest sees it.
    pub guest: String,
    /// Whether the guest may write.
    pub writable: bool,
}

/// Builds a [`Grants`]; every method grants one thing.
pub struct GrantsBuilder {
    grants: Grants,
    /// Where outgoing-HTTP origins are granted, named in every egress denial.
    hosts_key: String,
    /// Secrets the egress layer substitutes for their placeholders (see
    /// [`GrantsBuilder::secret_at_egress`]).
    secrets: Vec<SecretBinding>,
}

impl GrantsBuilder {
    /// Says where the operator grants capabilities, for denial messages
    /// (e.g. `config.yaml under skills.notes.grants`, or `the --grant flag`).
    pub fn grant_hint(mut self, hint: impl Into<String>) -> Self {
        self.grants.grant_hint = Arc::from(hint.into());
        self
    }

    /// Names where outgoing-HTTP origins are granted (e.g. `grants.skills.web-fetch.hosts`,
    /// or `--allow-host`); every egress denial tells the operator to add the origin there.
    /// Set it before [`GrantsBuilder::http_hosts`].
    pub fn hosts_key(mut self, key: impl Into<String>) -> Self {
        self.hosts_key = key.into();
        self
    }

    /// Sets the sandbox limits.
    pub fn limits(mut self, limits: SandboxLimits) -> Self {
        self.grants.limits = limits;
        self
    }

    /// Grants the config key `key` with `value` (`None`: granted but unset).
    pub fn config(mut self, key: impl Into<String>, value: Option<String>) -> Self {
        Arc::make_mut(&mut self.grants.config).insert(key.into(), value);
        self
    }

    /// Grants the secret of `binding` without its value: `config.get(name)` gives the
    /// placeholder, and the egress layer puts the value into requests to the binding's origins
    /// (headers; bodies when it says so), refuses the placeholder anywhere else, and masks the
    /// value in every response (`molecule_egress::secrets`).
    pub fn secret_at_egress(mut self, binding: SecretBinding) -> Self {
        let placeholder = Some(binding.placeholder().to_owned());
        Arc::make_mut(&mut self.grants.config).insert(binding.name().to_owned(), placeholder);
        self.secrets.push(binding);
        self
    }

    /// Grants a WASI environment variable; nothing of the host's environment is inherited.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.grants.env.push((key.into(), value.into()));
        self
    }

    /// Grants a host directory, visible to the guest at `guest` (e.g. `/data`).
    pub fn dir(
        mut self,
        host: impl Into<PathBuf>,
        guest: impl Into<String>,
        writable: bool,
    ) -> Self {
        self.grants.dirs.push(DirGrant {
            host: host.into(),
            guest: guest.into(),
            writable,
        });
        self
    }

    /// Grants the `memory` interface backed by `backend`.
    pub fn memory(mut self, backend: Arc<dyn MemoryBackend>) -> Self {
        self.grants.memory = Some(backend);
        self
    }

    /// Grants the `a2a` interface backed by `backend`.
    pub fn a2a(mut self, backend: Arc<dyn A2aBackend>) -> Self {
        self.grants.a2a = Some(backend);
        self
    }

    /// Grants the `heartbeat` interface backed by `backend`.
    pub fn heartbeat(mut self, backend: Arc<dyn HeartbeatBackend>) -> Self {
        self.grants.heartbeat = Some(backend);
        self
    }

    /// Grants the `llm` interface backed by `backend`.
    pub fn llm(mut self, backend: Arc<dyn LlmBackend>) -> Self {
        self.grants.llm = Some(backend);
        self
    }

    /// Grants the `tools` interface backed by `backend`.
    pub fn tools(mut self, backend: Arc<dyn ToolsBackend>) -> Self {
        self.grants.tools = Some(backend);
        self
    }

    /// Grants the task's context uploads, read-only at `/uploads` (a WASI preopen made per
    /// call when the context has uploads; see `crate::uploads`).
    pub fn uploads(mut self) -> Self {
        self.grants.uploads = true;
        self
    }

    /// Grants the `events` interface backed by `backend`.
    pub fn events(mut self, backend: Arc<dyn EventsBackend>) -> Self {
        self.grants.events = Some(backend);
        self
    }

    /// Grants outgoing HTTP to `hosts` (`scheme://host[:port]`); everything else stays
    /// denied, including private addresses a granted name resolves to.
    pub fn http_hosts<S: AsRef<str>>(mut self, hosts: &[S]) -> anyhow::Result<Self> {
        let policy = EgressPolicy::with_key(&self.grants.component, &self.hosts_key, hosts)?;
        self.grants.egress = Some(EgressHooks::new(policy)?);
        Ok(self)
    }

    /// Refuses every outgoing HTTP request with `reason` before any DNS lookup or
    /// connection (smoke mode), whatever was granted.
    pub fn offline_http(mut self, reason: &str) -> Self {
        let none: [&str; 0] = [];
        let policy = EgressPolicy::with_key(&self.grants.component, &self.hosts_key, &none)
            .map(|p| p.offline(reason));
        match policy
            .map_err(anyhow::Error::from)
            .and_then(|p| Ok(EgressHooks::new(p)?))
        {
            Ok(hooks) => self.grants.egress = Some(hooks),
            Err(err) => tracing::error!(error = %err, "cannot set up the offline HTTP policy"),
        }
        self
    }

    /// Like [`GrantsBuilder::http_hosts`] with ready-made hooks (tests use a fixed resolver).
    pub fn egress(mut self, hooks: EgressHooks) -> Self {
        self.grants.egress = Some(hooks);
        self
    }

    /// Finishes the grants. Without an HTTP grant, outgoing HTTP is denied. Secrets granted
    /// with [`GrantsBuilder::secret_at_egress`] go to the egress hooks; if their searchers
    /// cannot be built, outgoing HTTP is refused (never sent without substitution and
    /// redaction).
    pub fn build(mut self) -> Arc<Grants> {
        let secrets = std::mem::take(&mut self.secrets);
        if self.grants.egress.is_none() {
            let none: [&str; 0] = [];
            let policy = EgressPolicy::with_key(&self.grants.component, &self.hosts_key, &none)
                .expect("an empty list always parses");
            match EgressHooks::new(policy) {
                Ok(hooks) => self.grants.egress = Some(hooks),
                Err(err) => tracing::error!(error = %err, "cannot set up the HTTP deny policy"),
            }
        }
        if !secrets.is_empty() {
            self.attach_secrets(secrets);
        }
        Arc::new(self.grants)
    }

    /// Hands `secrets` to the egress hooks (or takes outgoing HTTP offline if that fails).
    fn attach_secrets(&mut self, secrets: Vec<SecretBinding>) {
        let Some(hooks) = self.grants.egress.take() else {
            return;
        };
        let cap = hooks.policy().response_cap();
        match EgressSecrets::new(&self.grants.component, secrets, cap) {
            Ok(set) => self.grants.egress = Some(hooks.with_secrets(Arc::new(set))),
            Err(err) => {
                tracing::error!(error = %err, "cannot set up secrets at egress; outgoing HTTP is refused");
                let none: [&str; 0] = [];
                let reason = "the secrets granted to this component could not be set up";
                self.grants.egress =
                    EgressPolicy::with_key(&self.grants.component, &self.hosts_key, &none)
                        .ok()
                        .and_then(|p| EgressHooks::new(p.offline(reason)).ok());
            }
        }
    }
}
