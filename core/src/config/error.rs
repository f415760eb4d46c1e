//! [`ConfigError`]: what is wrong with a configuration, where, and how to fix it.

use std::path::PathBuf;

use skinscan_settings::Invalid;

use crate::sign::KeyError;

/// A configuration problem: what, where, how to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{key} {message}")]
    Invalid {
        /// The dotted key (`market.rate_limit`).
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// An environment variable has a bad value.
    #[error("environment variable {var}={value:?} is not valid: {expected}")]
    Env {
        /// The variable.
        var: &'static str,
        /// Its value (never a secret's).
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// The API keys cannot be used.
    #[error(transparent)]
    Keys(#[from] KeyError),
}

pub(super) fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

impl From<Invalid> for ConfigError {
    fn from(e: Invalid) -> Self {
        ConfigError::Invalid {
            key: e.key,
            message: e.message,
        }
    }
}
