//! The one allow-check every capability shares: [`Granted`] holds a capability's backend
//! when the operator granted it, and otherwise answers with the `denied` error of
//! [`Denial`], which names the component, the capability and where to grant it.

use std::sync::Arc;

use crate::bindings::HostError;

/// Who is asking and where the operator grants capabilities, for `denied` errors. Cheap to
/// clone (shared text): every capability context of every store holds one.
#[derive(Debug, Clone)]
pub struct Denial {
    component: Arc<str>,
    hint: Arc<str>,
}

impl Denial {
    /// The denials of the component labelled `component` (e.g. `skill notes`); `hint` says
    /// where capabilities are granted (e.g. `config.yaml under grants.skills.notes`).
    pub fn new(component: impl Into<Arc<str>>, hint: impl Into<Arc<str>>) -> Self {
        Denial {
            component: component.into(),
            hint: hint.into(),
        }
    }

    /// The component label.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// The text of a denial of `capability`:
    /// `` {component} is not granted `{capability}`; grant it in {hint} ``.
    pub fn text(&self, capability: &str) -> String {
        format!(
            "{} is not granted `{capability}`; grant it in {}",
            self.component, self.hint
        )
    }

    /// [`Denial::text`] as the WIT `host-error::denied`.
    pub fn deny(&self, capability: &str) -> HostError {
        HostError::Denied(self.text(capability))
    }
}

/// A capability's backend if granted; the allow-check is [`Granted::get`].
pub struct Granted<B: ?Sized> {
    backend: Option<Arc<B>>,
    capability: &'static str,
    denial: Denial,
}

impl<B: ?Sized> Granted<B> {
    /// `capability` (its WIT interface name, e.g. `memory`) backed by `backend`, or denied
    /// when `None`.
    pub fn new(capability: &'static str, backend: Option<Arc<B>>, denial: Denial) -> Self {
        Granted {
            backend,
            capability,
            denial,
        }
    }

    /// The backend, or the `denied` error naming the component and the capability.
    pub fn get(&self) -> Result<Arc<B>, HostError> {
        self.backend
            .clone()
            .ok_or_else(|| self.denial.deny(self.capability))
    }

    /// The denials of this component (for capabilities with finer-grained grants).
    pub fn denial(&self) -> &Denial {
        &self.denial
    }

    /// The component label.
    pub fn component(&self) -> &str {
        self.denial.component()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ungranted_capability_is_denied_naming_component_capability_and_grant() {
        let denial = Denial::new("skill notes", "config.yaml under grants.skills.notes");
        let granted: Granted<str> = Granted::new("memory", None, denial.clone());
        assert_eq!(
            granted.get().unwrap_err(),
            HostError::Denied(
                "skill notes is not granted `memory`; grant it in config.yaml under \
                 grants.skills.notes"
                    .into()
            )
        );
        let granted: Granted<str> = Granted::new("memory", Some(Arc::from("backend")), denial);
        assert_eq!(&*granted.get().unwrap(), "backend");
    }
}
