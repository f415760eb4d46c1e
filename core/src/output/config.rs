//! `[output]` and `[log]`: what stdout and stderr show. Formats are typed in the schema, so
//! a wrong value is refused by the parser with its line, column and the accepted values.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[output]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// `"table"` (stdout, one per cycle) or `"json"` (one JSON document per cycle).
    pub format: OutputFormat,
    /// Rows in the table.
    pub top: usize,
    /// Append every opportunity to this JSON Lines file.
    pub jsonl: Option<PathBuf>,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            format: OutputFormat::Table,
            top: 20,
            jsonl: None,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `"human"` or `"json"`.
    pub format: LogFormat,
    /// Default filter when `RUST_LOG` is unset (`"info"`, `"skinscan=debug"`).
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Human,
            level: "info".into(),
        }
    }
}

/// The output format on stdout. Typed in the schema: a wrong value is refused by the parser
/// with its line and column and the accepted values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// A table per cycle.
    Table,
    /// A JSON document per cycle.
    Json,
}

/// The log format on stderr (typed in the schema, as [`OutputFormat`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    Human,
    /// One JSON object per line.
    Json,
}
