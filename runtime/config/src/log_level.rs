//! The stderr log level and where it comes from: `LOG_LEVEL` > `RUST_LOG` >
//! `observability.log_level` > [`DEFAULT_LOG_LEVEL`]. The runtime turns the winner into a
//! `tracing` filter with [`LogLevel::directive`].

use crate::env::Env;
use crate::workspace::Origin;

/// The log level when neither the environment nor config.yaml sets one.
pub const DEFAULT_LOG_LEVEL: &str = "WARN";

/// The level names `observability.log_level` accepts (any case); `WARNING` is `WARN` and
/// `CRITICAL` is `ERROR` (the names of the Python runtime).
pub const LOG_LEVELS: [&str; 7] = [
    "TRACE", "DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL",
];

/// The log level in force and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLevel {
    /// The text as set: a level name (`DEBUG`), or for `LOG_LEVEL` / `RUST_LOG` also a
    /// `tracing` filter (`molecule_runtime=debug,warn`).
    pub text: String,
    /// Where it came from: `Env { var: "LOG_LEVEL" | "RUST_LOG" }`,
    /// `File { key: "observability.log_level" }` or `Default`.
    pub origin: Origin,
}

impl LogLevel {
    /// The level from the environment alone (`LOG_LEVEL`, else `RUST_LOG`), else
    /// `config_level` (`observability.log_level`), else [`DEFAULT_LOG_LEVEL`].
    pub fn resolve(env: &Env, config_level: Option<&str>) -> LogLevel {
        let pick = |text: &str, origin| LogLevel {
            text: text.to_string(),
            origin,
        };
        if let Some(text) = &env.log_level {
            pick(text, Origin::Env { var: "LOG_LEVEL" })
        } else if let Some(text) = &env.rust_log {
            pick(text, Origin::Env { var: "RUST_LOG" })
        } else if let Some(text) = config_level {
            let key = "observability.log_level";
            pick(text, Origin::File { key })
        } else {
            pick(DEFAULT_LOG_LEVEL, Origin::Default)
        }
    }

    /// The `tracing` filter directive: a level name in lower case, with `WARNING` → `warn`
    /// and `CRITICAL` → `error`; anything else (a filter such as `molecule_runtime=debug`)
    /// as written.
    pub fn directive(&self) -> String {
        match self.text.trim().to_ascii_uppercase().as_str() {
            "WARNING" => "warn".into(),
            "CRITICAL" => "error".into(),
            level if LOG_LEVELS.contains(&level) => level.to_ascii_lowercase(),
            _ => self.text.trim().to_string(),
        }
    }

    /// Where it came from, for messages: `LOG_LEVEL`, `RUST_LOG`, `observability.log_level`
    /// or `the default`.
    pub fn source(&self) -> &'static str {
        match self.origin {
            Origin::Env { var } => var,
            Origin::File { key } => key,
            Origin::Default | Origin::ModelPrefix => "the default",
        }
    }
}
