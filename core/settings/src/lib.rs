//! # skinscan-settings: what every config section shares
//!
//! Each feature owns its config section (a serde type with its defaults) and turns it into
//! its validated options; this crate holds the little they share: [`Dur`] (a duration as
//! people write it) and [`Invalid`] (a value refused, naming its dotted key and what to
//! write instead). The host's `config` module composes the sections, reads the file and the
//! environment, and adds the file, line and column to an [`Invalid`].
//!
//! **Layer rule:** depends on serde and humantime only; every crate may use it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A value refused: the dotted key (`watch.floor_share`) and what is wrong and expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} {message}")]
pub struct Invalid {
    /// The dotted key.
    pub key: String,
    /// What is wrong, and what is expected.
    pub message: String,
}

/// A refusal of `key`'s value.
pub fn invalid(key: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// A duration written as `"60s"`, `"250ms"`, `"2m"` (or a bare number of seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        let d = match Raw::deserialize(d)? {
            Raw::Secs(s) => Duration::from_secs(s),
            Raw::Text(t) => humantime::parse_duration(t.trim()).map_err(|e| {
                serde::de::Error::custom(format!(
                    "{t:?} is not a duration ({e}); write e.g. \"60s\", \"500ms\", \"2m\""
                ))
            })?,
        };
        if d > MAX_DURATION {
            return Err(serde::de::Error::custom(format!(
                "{} is longer than the longest accepted, 30 days",
                humantime::format_duration(d)
            )));
        }
        Ok(Dur(d))
    }
}

/// The longest duration any setting accepts: longer ones would overflow timers, and no
/// sensible interval or timeout comes near it.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 86_400);

impl Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl Dur {
    /// `self`, refused under `key` when zero.
    pub fn nonzero(self, key: &str) -> Result<Duration, Invalid> {
        if self.0.is_zero() {
            Err(invalid(key, "must be longer than 0s"))
        } else {
            Ok(self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct T {
        d: Dur,
    }

    fn parse(v: &str) -> Result<Duration, String> {
        toml::from_str::<T>(&format!("d = {v}"))
            .map(|t| t.d.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_duration_is_text_with_a_unit_or_a_bare_number_of_seconds() {
        assert_eq!(parse("\"250ms\""), Ok(Duration::from_millis(250)));
        assert_eq!(parse("\"2m\""), Ok(Duration::from_secs(120)));
        assert_eq!(parse("300"), Ok(Duration::from_secs(300)));
        let err = parse("\"soon\"").unwrap_err();
        assert!(err.contains("\"soon\" is not a duration"), "{err}");
        let err = parse("\"31d\"").unwrap_err();
        assert!(
            err.contains("longer than the longest accepted, 30 days"),
            "{err}"
        );
    }

    #[test]
    fn a_zero_duration_is_refused_naming_its_key() {
        assert_eq!(
            Dur(Duration::ZERO)
                .nonzero("watch.gone_every")
                .unwrap_err()
                .to_string(),
            "watch.gone_every must be longer than 0s"
        );
        assert_eq!(
            Dur(Duration::from_secs(1)).nonzero("k"),
            Ok(Duration::from_secs(1))
        );
    }
}
