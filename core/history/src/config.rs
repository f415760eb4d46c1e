//! `[history]`: whether a history is kept, where, and for how long.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use skinscan_settings::Dur;

/// `[history]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    /// Keep a history (and make alerts restart-safe).
    pub enabled: bool,
    /// The SQLite file (created on first run, with its folder).
    pub path: PathBuf,
    /// Rows older than this are deleted at start and every hour.
    pub retention: Dur,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            enabled: true,
            path: PathBuf::from("skinscan-history.db"),
            retention: Dur(Duration::from_secs(30 * 86_400)),
        }
    }
}
