//! A plugin's own config table (`[plugins.<id>]`) as sdk-owned values with typed getters.
//!
//! The host converts the TOML table into [`PluginSettings`] (no third-party type crosses the
//! plugin boundary). Getters take the default, so defaults live next to their use, and fail
//! with an error naming the plugin, the key and what was found.

use std::collections::BTreeMap;
use std::fmt;

use crate::money::{parse_dollars_cents, parse_percent_bps};

/// One setting's value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettingValue {
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Integer(i64),
    /// A number with a fraction, kept as its shortest decimal text (`"7.5"`) so money and
    /// percentages never go through a float.
    Decimal(String),
    /// A string.
    String(String),
    /// An array.
    List(Vec<SettingValue>),
    /// A table or other value skinscan does not interpret; described for error messages.
    Other(String),
}

impl fmt::Display for SettingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingValue::Bool(b) => write!(f, "{b}"),
            SettingValue::Integer(i) => write!(f, "{i}"),
            SettingValue::Decimal(d) => f.write_str(d),
            SettingValue::String(s) => write!(f, "{s:?}"),
            SettingValue::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            SettingValue::Other(desc) => f.write_str(desc),
        }
    }
}

/// A setting that is missing the right type or value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugins.{plugin}.{key} {problem}")]
pub struct SettingsError {
    /// The plugin id.
    pub plugin: String,
    /// The key.
    pub key: String,
    /// What is wrong, phrased to follow the key (`must be a number, got "x"`).
    pub problem: String,
}

/// A plugin's settings table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PluginSettings {
    plugin: String,
    values: BTreeMap<String, SettingValue>,
}

impl PluginSettings {
    /// Settings for `plugin` holding `values`.
    pub fn new(plugin: impl Into<String>, values: BTreeMap<String, SettingValue>) -> Self {
        PluginSettings {
            plugin: plugin.into(),
            values,
        }
    }

    /// The plugin id these settings belong to.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&SettingValue> {
        self.values.get(key)
    }

    /// Sets `key` (used by hosts and tests).
    pub fn set(&mut self, key: impl Into<String>, value: SettingValue) {
        self.values.insert(key.into(), value);
    }

    /// Every key present.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Fails on the first key not in `known`, listing the known ones (catches typos).
    pub fn ensure_known(&self, known: &[&str]) -> Result<(), SettingsError> {
        match self.values.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => {
                let mut sorted = known.to_vec();
                sorted.sort_unstable();
                Err(self.error(
                    k,
                    format!(
                        "is not a setting of this plugin; known settings: {}",
                        sorted.join(", ")
                    ),
                ))
            }
        }
    }

    /// A boolean.
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, SettingsError> {
        match self.values.get(key) {
            None => Ok(default),
            Some(SettingValue::Bool(b)) => Ok(*b),
            Some(v) => Err(self.wrong(key, "must be true or false", v)),
        }
    }

    /// A non-negative whole number within `range`.
    pub fn u64_in(
        &self,
        key: &str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, SettingsError> {
        let v = match self.values.get(key) {
            None => return Ok(default),
            Some(SettingValue::Integer(i)) => u64::try_from(*i).ok(),
            Some(_) => None,
        };
        match v {
            Some(n) if range.contains(&n) => Ok(n),
            _ => Err(self.wrong(
                key,
                &format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
                self.values.get(key).expect("the key was present above"),
            )),
        }
    }

    /// A percentage with at most two decimals (`5`, `7.35`, `"2.5"`), in basis points.
    pub fn percent_bps(&self, key: &str, default_bps: i64) -> Result<i64, SettingsError> {
        self.decimal_with(key, default_bps, parse_percent_bps, "must be a number")
    }

    /// A dollar amount with at most two decimals (`0.5`, `12`, `"3.25"`), in cents.
    pub fn dollars_cents(&self, key: &str, default_cents: i64) -> Result<i64, SettingsError> {
        self.decimal_with(
            key,
            default_cents,
            parse_dollars_cents,
            "must be an amount in dollars",
        )
    }

    fn decimal_with(
        &self,
        key: &str,
        default: i64,
        parse: fn(&str) -> Option<i64>,
        expected: &str,
    ) -> Result<i64, SettingsError> {
        let parsed = match self.values.get(key) {
            None => return Ok(default),
            Some(SettingValue::Integer(i)) => i.checked_mul(100),
            Some(SettingValue::Decimal(d)) | Some(SettingValue::String(d)) => parse(d),
            Some(_) => None,
        };
        parsed.ok_or_else(|| {
            let v = self.values.get(key).expect("the key was present above");
            self.wrong(key, &format!("{expected} with at most two decimals"), v)
        })
    }

    /// A string.
    pub fn string(&self, key: &str, default: &str) -> Result<String, SettingsError> {
        match self.values.get(key) {
            None => Ok(default.to_owned()),
            Some(SettingValue::String(s)) => Ok(s.clone()),
            Some(v) => Err(self.wrong(key, "must be a string", v)),
        }
    }

    /// A list of strings.
    pub fn string_list(&self, key: &str, default: &[&str]) -> Result<Vec<String>, SettingsError> {
        match self.values.get(key) {
            None => Ok(default.iter().map(|s| (*s).to_owned()).collect()),
            Some(SettingValue::List(items)) => items
                .iter()
                .map(|item| match item {
                    SettingValue::String(s) => Ok(s.clone()),
                    other => Err(self.wrong(key, "must be a list of strings", other)),
                })
                .collect(),
            Some(v) => Err(self.wrong(key, "must be a list of strings", v)),
        }
    }

    /// An error about `key` with a free-form `problem`.
    pub fn error(&self, key: &str, problem: impl Into<String>) -> SettingsError {
        SettingsError {
            plugin: self.plugin.clone(),
            key: key.to_owned(),
            problem: problem.into(),
        }
    }

    fn wrong(&self, key: &str, expected: &str, got: &SettingValue) -> SettingsError {
        self.error(key, format!("{expected}, got {got}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, SettingValue)]) -> PluginSettings {
        PluginSettings::new(
            "csgo",
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn typed_getters_apply_defaults_and_parse_decimals_exactly() {
        let s = settings(&[
            ("items", SettingValue::Integer(250)),
            ("min_profit_percent", SettingValue::Decimal("7.35".into())),
            ("min_profit", SettingValue::String("0.50".into())),
            ("souvenir", SettingValue::Bool(true)),
        ]);
        assert_eq!(s.u64_in("items", 100, 1..=1000), Ok(250));
        assert_eq!(s.u64_in("missing", 100, 1..=1000), Ok(100));
        assert_eq!(s.percent_bps("min_profit_percent", 0), Ok(735));
        assert_eq!(s.dollars_cents("min_profit", 0), Ok(50));
        assert_eq!(s.bool("souvenir", false), Ok(true));
        assert_eq!(s.percent_bps("missing", 500), Ok(500));
    }

    #[test]
    fn errors_name_the_plugin_the_key_and_what_was_found() {
        let s = settings(&[
            ("min_profit_percent", SettingValue::String("x".into())),
            ("items", SettingValue::Integer(0)),
            (
                "blacklist",
                SettingValue::List(vec![SettingValue::Integer(1)]),
            ),
        ]);
        assert_eq!(
            s.percent_bps("min_profit_percent", 0)
                .unwrap_err()
                .to_string(),
            "plugins.csgo.min_profit_percent must be a number with at most two decimals, got \"x\""
        );
        assert_eq!(
            s.u64_in("items", 100, 1..=100_000).unwrap_err().to_string(),
            "plugins.csgo.items must be a whole number from 1 to 100000, got 0"
        );
        assert_eq!(
            s.string_list("blacklist", &[]).unwrap_err().to_string(),
            "plugins.csgo.blacklist must be a list of strings, got 1"
        );
    }

    #[test]
    fn unknown_keys_are_reported_with_the_known_ones() {
        let s = settings(&[("itmes", SettingValue::Integer(5))]);
        let err = s.ensure_known(&["items", "blacklist"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "plugins.csgo.itmes is not a setting of this plugin; known settings: blacklist, items"
        );
        assert!(settings(&[]).ensure_known(&["items"]).is_ok());
    }
}
