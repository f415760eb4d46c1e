//! The plugin registry: the built-in games and libraries loaded by path, behind one
//! interface so the scheduler cannot tell them apart.
//!
//! Built-ins are an explicit list of the four crates' declarations. A library is opened with
//! `RTLD_NOW`, its `skinscan_plugin_<name>` declaration is read field by field in C layout,
//! and any mismatch (magic, ABI version, layout hash, panic strategy, sdk or rustc version,
//! name) is refused naming the library and both values before any Rust-ABI item is touched.
//! Libraries are never unloaded: their code may still be referenced by a scanner.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use skinscan_sdk::plugin::{self as abi, LogRecord, PluginDeclaration};
use skinscan_sdk::{GameInfo, GameScanner, PluginSettings, SettingValue};
use skinscan_settings::{Invalid, invalid};

/// The built-in plugins, in the order they are listed.
pub fn builtins() -> [&'static PluginDeclaration; 4] {
    [
        &skinscan_csgo::DECLARATION,
        &skinscan_dota2::DECLARATION,
        &skinscan_rust::DECLARATION,
        &skinscan_tf2::DECLARATION,
    ]
}

/// The names of the built-in plugins.
pub fn builtin_names() -> Vec<&'static str> {
    // SAFETY: built-in declarations are statics of this binary.
    builtins()
        .iter()
        .filter_map(|d| unsafe { d.name.as_str() })
        .collect()
}

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Linked into the host.
    BuiltIn,
    /// Loaded from this library.
    Library(PathBuf),
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::BuiltIn => f.write_str("built-in"),
            PluginSource::Library(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A plugin ready to scan.
#[derive(Clone)]
pub struct Plugin {
    /// Its config name (`csgo`).
    pub name: String,
    /// Built-in or a library.
    pub source: PluginSource,
    /// The sdk version it was built with.
    pub sdk_version: String,
    /// Scanned or not.
    pub enabled: bool,
    /// What it says about its game.
    pub info: GameInfo,
    /// Its settings.
    pub settings: PluginSettings,
    /// The guarded scanner.
    pub scanner: Arc<dyn GameScanner>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("source", &self.source)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// Why a plugin cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// No built-in of that name and no `path`.
    #[error(
        "unknown plugin {name:?} in [plugins.{name}]: available built-ins are {available}; to load a library set plugins.{name}.path"
    )]
    Unknown {
        /// The name.
        name: String,
        /// The built-ins.
        available: String,
    },
    /// The library file does not exist.
    #[error("plugin library {} for [plugins.{name}] does not exist: build it (cargo build -p <crate> --release) or fix plugins.{name}.path", path.display())]
    Missing {
        /// The name.
        name: String,
        /// The path.
        path: PathBuf,
    },
    /// The file is not a loadable library.
    #[error("cannot load {} as a plugin library: {message}; point plugins.<name>.path at a cdylib built with skinscan_sdk::declare_plugin!", path.display())]
    Open {
        /// The path.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// The library does not export the declaration.
    #[error("{} is not a skinscan plugin named {name:?}: it exports no symbol {symbol} (plugins are declared with skinscan_sdk::declare_plugin!({name}, ...))", path.display())]
    NoDeclaration {
        /// The path.
        path: PathBuf,
        /// The expected name.
        name: String,
        /// The symbol looked up.
        symbol: String,
    },
    /// A declaration field does not match the host.
    #[error(
        "plugin refused: {origin} was built with {field} {theirs}, this host needs {ours}; rebuild the plugin against skinscan-sdk {sdk} with {rustc}"
    )]
    Incompatible {
        /// The library or built-in.
        origin: String,
        /// Which field.
        field: &'static str,
        /// The host's value.
        ours: String,
        /// The plugin's value.
        theirs: String,
        /// The host's sdk version.
        sdk: &'static str,
        /// The host's rustc.
        rustc: &'static str,
    },
    /// The constructor failed or panicked.
    #[error("plugin {name:?} failed to start: {message}")]
    Constructor {
        /// The name.
        name: String,
        /// What it said.
        message: String,
    },
}

/// Resolves the config's plugin tables against the built-ins and loads libraries. Built-ins
/// without a table are included, enabled, with default settings.
pub fn resolve(entries: &[PluginEntry]) -> Result<Vec<Plugin>, PluginError> {
    let mut out = Vec::new();
    for decl in builtins() {
        // SAFETY: built-in declarations are statics of this binary.
        let name = unsafe { decl.name.as_str() }.unwrap_or_default();
        if entries.iter().any(|e| e.name == name) {
            continue;
        }
        out.push(from_declaration(
            decl,
            name,
            PluginSource::BuiltIn,
            true,
            PluginSettings::new(name, Default::default()),
        )?);
    }
    for entry in entries {
        let plugin = match &entry.path {
            Some(path) => load_library(&entry.name, path, entry.enabled, entry.settings.clone())?,
            None => {
                let decl = builtins()
                    .into_iter()
                    // SAFETY: built-in declarations are statics of this binary.
                    .find(|d| unsafe { d.name.as_str() } == Some(entry.name.as_str()))
                    .ok_or_else(|| PluginError::Unknown {
                        name: entry.name.clone(),
                        available: builtin_names().join(", "),
                    })?;
                from_declaration(
                    decl,
                    &entry.name,
                    PluginSource::BuiltIn,
                    entry.enabled,
                    entry.settings.clone(),
                )?
            }
        };
        out.push(plugin);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Opens `path`, checks its declaration of `name` and constructs the scanner.
pub fn load_library(
    name: &str,
    path: &Path,
    enabled: bool,
    settings: PluginSettings,
) -> Result<Plugin, PluginError> {
    // A name without a slash would send dlopen searching the system's library path; the
    // README promises relative paths are from the working directory, so make it explicit.
    let absolute;
    let path = if path.is_relative() {
        absolute = std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| Path::new(".").join(path));
        absolute.as_path()
    } else {
        path
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(_) => {
            return Err(PluginError::Missing {
                name: name.to_owned(),
                path: path.to_path_buf(),
            });
        }
    };
    // A FIFO or device would block dlopen (or read forever): refuse it before opening.
    if !meta.is_file() {
        return Err(PluginError::Open {
            path: path.to_path_buf(),
            message: "not a regular file".to_owned(),
        });
    }
    // SAFETY: loading a library runs its initialisers; plugins are trusted code the user
    // chose to load. RTLD_NOW resolves every symbol up front so a broken library fails here.
    let library = unsafe {
        #[cfg(unix)]
        {
            libloading::os::unix::Library::open(
                Some(path),
                libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
            )
            .map(libloading::Library::from)
        }
        #[cfg(not(unix))]
        {
            libloading::Library::new(path)
        }
    }
    .map_err(|e| PluginError::Open {
        path: path.to_path_buf(),
        // libloading says "dlopen failed" and keeps the loader's reason as the source.
        message: std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": "),
    })?;
    let symbol = format!("skinscan_plugin_{name}");
    // SAFETY: the symbol is looked up as a pointer to data; nothing is read until the checks.
    let decl: *const PluginDeclaration = unsafe {
        library
            .get::<*const PluginDeclaration>(symbol.as_bytes())
            .map(|s| *s)
            .map_err(|_| PluginError::NoDeclaration {
                path: path.to_path_buf(),
                name: name.to_owned(),
                symbol: symbol.clone(),
            })?
    };
    // The library is never unloaded: the scanner's code and statics live in it.
    std::mem::forget(library);
    if decl.is_null() {
        return Err(PluginError::NoDeclaration {
            path: path.to_path_buf(),
            name: name.to_owned(),
            symbol,
        });
    }
    // SAFETY: the symbol points at a `PluginDeclaration` static if the library is a skinscan
    // plugin; `check` reads only its C-layout prefix before trusting the rest.
    let decl: &'static PluginDeclaration = unsafe { &*decl };
    let origin = path.display().to_string();
    check(decl, &origin, name)?;
    let max_level = match tracing::level_filters::LevelFilter::current().into_level() {
        None => 0,
        Some(tracing::Level::ERROR) => 1,
        Some(tracing::Level::WARN) => 2,
        Some(tracing::Level::INFO) => 3,
        Some(tracing::Level::DEBUG) => 4,
        Some(tracing::Level::TRACE) => 5,
    };
    (decl.install_logger)(host_log_sink, max_level);
    from_declaration(
        decl,
        name,
        PluginSource::Library(path.to_path_buf()),
        enabled,
        settings,
    )
}

/// Checks the declaration against the host, field by field, in C layout order.
fn check(decl: &PluginDeclaration, origin: &str, name: &str) -> Result<(), PluginError> {
    let refuse = |field: &'static str, ours: String, theirs: String| PluginError::Incompatible {
        origin: origin.to_owned(),
        field,
        ours,
        theirs,
        sdk: abi::SDK_VERSION,
        rustc: abi::RUSTC_VERSION,
    };
    if decl.magic != abi::MAGIC {
        return Err(refuse(
            "magic",
            format!("{:?}", abi::MAGIC),
            format!("{:?}", decl.magic),
        ));
    }
    if decl.abi_version != abi::ABI_VERSION {
        return Err(refuse(
            "ABI version",
            abi::ABI_VERSION.to_string(),
            decl.abi_version.to_string(),
        ));
    }
    if decl.panic_unwind != 1 {
        return Err(refuse("panic strategy", "unwind".into(), "abort".into()));
    }
    if decl.layout_hash != abi::LAYOUT_HASH {
        return Err(refuse(
            "layout hash",
            format!("{:#x}", abi::LAYOUT_HASH),
            format!("{:#x}", decl.layout_hash),
        ));
    }
    // SAFETY: the prefix matched, so these are `StrRef`s to the library's static strings.
    let (sdk, rustc, decl_name) = unsafe {
        (
            decl.sdk_version.as_str(),
            decl.rustc_version.as_str(),
            decl.name.as_str(),
        )
    };
    if sdk != Some(abi::SDK_VERSION) {
        return Err(refuse(
            "sdk version",
            abi::SDK_VERSION.into(),
            sdk.unwrap_or("<unreadable>").into(),
        ));
    }
    if rustc != Some(abi::RUSTC_VERSION) {
        return Err(refuse(
            "rustc version",
            abi::RUSTC_VERSION.into(),
            rustc.unwrap_or("<unreadable>").into(),
        ));
    }
    if decl_name != Some(name) {
        return Err(refuse(
            "plugin name",
            name.into(),
            decl_name.unwrap_or("<unreadable>").into(),
        ));
    }
    Ok(())
}

fn from_declaration(
    decl: &'static PluginDeclaration,
    name: &str,
    source: PluginSource,
    enabled: bool,
    settings: PluginSettings,
) -> Result<Plugin, PluginError> {
    if source == PluginSource::BuiltIn {
        check(decl, &format!("built-in plugin {name}"), name)?;
    }
    let scanner = (decl.constructor)().map_err(|message| PluginError::Constructor {
        name: name.to_owned(),
        message,
    })?;
    let info = scanner.info();
    // A library declared for [plugins.x] that scans another game would report its results
    // under the wrong name: refuse it.
    if info.id.as_str() != name {
        return Err(PluginError::Constructor {
            name: name.to_owned(),
            message: format!(
                "it is declared as {name:?} but its scanner's game id is {:?}; the two must match \
                 (GameInfo::id and declare_plugin!({name}, ...))",
                info.id.as_str()
            ),
        });
    }
    Ok(Plugin {
        name: name.to_owned(),
        source,
        // SAFETY: checked above (a static string of a loaded library or of this binary).
        sdk_version: unsafe { decl.sdk_version.as_str() }
            .unwrap_or_default()
            .to_owned(),
        enabled,
        info,
        settings,
        scanner: Arc::from(scanner),
    })
}

/// Receives a dynamic plugin's log events and re-emits them through the host's subscriber,
/// inside whatever span (the `game` span) is current on this thread.
extern "C" fn host_log_sink(record: &LogRecord) {
    let target = record.target.as_str();
    let message = record.message.as_str();
    // A dynamic plugin's events arrive under `skinscan::plugin`; `RUST_LOG` directives for
    // its own crate (`skinscan_pubg=debug`) are applied here, by its original target.
    if let Some(max) = plugin_directive(target)
        && record.level > max
    {
        return;
    }
    match record.level {
        1 => tracing::error!(target: "skinscan::plugin", plugin_target = target, "{message}"),
        2 => tracing::warn!(target: "skinscan::plugin", plugin_target = target, "{message}"),
        3 => tracing::info!(target: "skinscan::plugin", plugin_target = target, "{message}"),
        4 => tracing::debug!(target: "skinscan::plugin", plugin_target = target, "{message}"),
        _ => tracing::trace!(target: "skinscan::plugin", plugin_target = target, "{message}"),
    }
}

/// `RUST_LOG` directives naming targets outside the host (`skinscan_pubg=debug`), as
/// (target, level 0 = off .. 5 = trace), and the level the host's filter gave plugin events
/// before (`skinscan::plugin=`, `skinscan=`, or the bare default; off when none). Set once,
/// when logging starts, only when there are such directives.
static PLUGIN_DIRECTIVES: std::sync::OnceLock<(Vec<(String, u8)>, u8)> = std::sync::OnceLock::new();

/// Reads the plugin-crate directives of a `RUST_LOG` value and returns the `skinscan::plugin`
/// directive the host's filter needs so their events get through (`None` when there is
/// none). Call once, before plugins load.
pub fn set_plugin_log_directives(rust_log: &str) -> Option<String> {
    let level = |l: &str| match l.trim().to_ascii_lowercase().as_str() {
        "off" => Some(0),
        "error" => Some(1),
        "warn" => Some(2),
        "info" => Some(3),
        "debug" => Some(4),
        "trace" => Some(5),
        _ => None,
    };
    let parts: Vec<&str> = rust_log.split(',').map(str::trim).collect();
    let directives: Vec<(String, u8)> = parts
        .iter()
        .filter_map(|d| d.split_once('='))
        .filter(|(t, _)| {
            let t = t.trim();
            !t.is_empty() && !t.starts_with("skinscan::") && t != "skinscan" && !t.contains('[')
        })
        .filter_map(|(t, l)| Some((t.trim().to_owned(), level(l)?)))
        .collect();
    if directives.is_empty() {
        return None;
    }
    let named = |target: &str| {
        parts.iter().find_map(|d| {
            d.split_once('=')
                .filter(|(t, _)| t.trim() == target)
                .and_then(|(_, l)| level(l))
        })
    };
    let before = named("skinscan::plugin")
        .or_else(|| named("skinscan"))
        .or_else(|| parts.iter().find_map(|d| level(d)))
        .unwrap_or(0);
    let most = directives.iter().map(|(_, l)| *l).max();
    let _ = PLUGIN_DIRECTIVES.set((directives, before));
    let name = ["off", "error", "warn", "info", "debug", "trace"];
    most.filter(|l| *l > 0)
        .map(|l| format!("skinscan::plugin={}", name[usize::from(l)]))
}

/// The most verbose level `RUST_LOG` allows for a plugin event of `target`, when a
/// directive names its crate (the longest matching prefix wins).
fn plugin_directive(target: &str) -> Option<u8> {
    let (directives, before) = PLUGIN_DIRECTIVES.get()?;
    Some(plugin_level_in(directives, target).unwrap_or(*before))
}

fn plugin_level_in(directives: &[(String, u8)], target: &str) -> Option<u8> {
    directives
        .iter()
        .filter(|(t, _)| {
            target == t
                || target
                    .strip_prefix(t.as_str())
                    .is_some_and(|r| r.starts_with("::"))
        })
        .max_by_key(|(t, _)| t.len())
        .map(|(_, l)| *l)
}

/// One `[plugins.<name>]` entry.
#[derive(Debug, Clone)]
pub struct PluginEntry {
    /// The table's name.
    pub name: String,
    /// Scanned or not.
    pub enabled: bool,
    /// Load this library instead of the built-in.
    pub path: Option<PathBuf>,
    /// The plugin's own settings.
    pub settings: PluginSettings,
}

/// The `[plugins.<name>]` table `table`, checked: `enabled` and `path` are the host's, every
/// other key is the plugin's own setting (which the plugin checks when it starts).
pub fn plugin_entry(name: &str, table: &toml::Table) -> Result<PluginEntry, Invalid> {
    let key = |k: &str| format!("plugins.{name}.{k}");
    let enabled = match table.get("enabled") {
        None => true,
        Some(toml::Value::Boolean(b)) => *b,
        Some(other) => {
            return Err(invalid(
                key("enabled"),
                format!("must be true or false, got {other}"),
            ));
        }
    };
    let path = match table.get("path") {
        None => None,
        Some(toml::Value::String(p)) if !p.trim().is_empty() => Some(PathBuf::from(p)),
        Some(other) => {
            return Err(invalid(
                key("path"),
                format!("must be the path of a plugin library, got {other}"),
            ));
        }
    };
    let values = table
        .iter()
        .filter(|(k, _)| k.as_str() != "enabled" && k.as_str() != "path")
        .map(|(k, v)| (k.clone(), setting_value(v)))
        .collect();
    Ok(PluginEntry {
        name: name.to_owned(),
        enabled,
        path,
        settings: PluginSettings::new(name, values),
    })
}

/// TOML to the sdk's own value type (no third-party type crosses the plugin boundary).
/// Floats keep their shortest decimal text so percentages never go through float math.
pub fn setting_value(v: &toml::Value) -> SettingValue {
    match v {
        toml::Value::Boolean(b) => SettingValue::Bool(*b),
        toml::Value::Integer(i) => SettingValue::Integer(*i),
        toml::Value::Float(f) => SettingValue::Decimal(format!("{f}")),
        toml::Value::String(s) => SettingValue::String(s.clone()),
        toml::Value::Array(items) => SettingValue::List(items.iter().map(setting_value).collect()),
        other => SettingValue::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, path: Option<&str>) -> PluginEntry {
        PluginEntry {
            name: name.into(),
            enabled: true,
            path: path.map(PathBuf::from),
            settings: PluginSettings::new(name, Default::default()),
        }
    }

    #[test]
    fn the_four_games_are_built_in_and_pass_the_same_checks() {
        let plugins = resolve(&[]).unwrap();
        let names: Vec<(&str, &str)> = plugins
            .iter()
            .map(|p| (p.name.as_str(), p.info.market_game_id.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("csgo", "a8db"),
                ("dota2", "9a92"),
                ("rust", "rust"),
                ("tf2", "tf2")
            ]
        );
        assert!(
            plugins
                .iter()
                .all(|p| p.source == PluginSource::BuiltIn && p.enabled)
        );
    }

    #[test]
    fn an_unknown_plugin_lists_the_available_ones() {
        let err = resolve(&[entry("chess", None)]).unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown plugin \"chess\" in [plugins.chess]: available built-ins are csgo, dota2, rust, tf2; to load a library set plugins.chess.path"
        );
    }

    #[test]
    fn a_missing_library_is_refused_naming_it() {
        let err = resolve(&[entry("csgo", Some("/nonexistent/libskinscan_csgo.so"))])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "plugin library /nonexistent/libskinscan_csgo.so for [plugins.csgo] does not exist"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_library_that_is_not_a_plugin_is_refused() {
        // A real shared library of the system without our symbol, or a file that is not one.
        let not_a_lib =
            std::env::temp_dir().join(format!("skinscan-not-a-lib-{}.so", std::process::id()));
        std::fs::write(&not_a_lib, b"not an ELF file").unwrap();
        let err = load_library("csgo", &not_a_lib, true, PluginSettings::default()).unwrap_err();
        assert!(matches!(err, PluginError::Open { .. }), "{err}");
        let _ = std::fs::remove_file(&not_a_lib);
    }

    #[test]
    fn a_declaration_with_another_abi_version_is_refused_with_both_values() {
        let wrong = PluginDeclaration {
            abi_version: abi::ABI_VERSION + 1,
            ..skinscan_csgo::DECLARATION
        };
        let err = check(&wrong, "libwrong.so", "csgo")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "plugin refused: libwrong.so was built with ABI version {}, this host needs {}",
                abi::ABI_VERSION + 1,
                abi::ABI_VERSION
            )),
            "{err}"
        );
    }

    #[test]
    fn rust_log_directives_for_plugin_crates_are_applied_by_their_own_target() {
        let d = vec![
            ("skinscan_pubg".to_owned(), 4),
            ("skinscan_pubg::noisy".to_owned(), 1),
        ];
        assert_eq!(plugin_level_in(&d, "skinscan_pubg"), Some(4));
        assert_eq!(plugin_level_in(&d, "skinscan_pubg::scan"), Some(4));
        assert_eq!(plugin_level_in(&d, "skinscan_pubg::noisy::deep"), Some(1));
        assert_eq!(plugin_level_in(&d, "skinscan_pubgx"), None);
        assert_eq!(plugin_level_in(&d, "other"), None);
    }
}
