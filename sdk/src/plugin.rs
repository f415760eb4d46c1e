//! Exporting a plugin: the `#[repr(C)]` declaration, the panic guard, log forwarding and
//! [`declare_plugin!`](crate::declare_plugin).
//!
//! The host reads a declaration field by field, in C layout, before touching any Rust-ABI item:
//! magic, ABI version, layout hash of the boundary types, panic strategy, sdk and rustc
//! versions. Only when all match does it call the constructor. Why each check exists:
//! - Rust has no stable ABI: a plugin built by another rustc, or against an sdk whose boundary
//!   types differ, would misread every struct. Versions and the layout hash catch that.
//! - A panic cannot unwind across the boundary (the other side aborts with "Rust cannot catch
//!   foreign exceptions"), so [`Guarded`] catches a plugin's panics *inside the plugin*: it is
//!   generic, so it is compiled into the plugin that instantiates it.
//! - A cdylib carries its own copies of tokio's and tracing's globals. A plugin must not use
//!   a runtime (all I/O goes through [`ScanContext`]), and its log events are forwarded to the
//!   host by a small subscriber installed through the declaration's `install_logger`.
//!
//! Neither side may set a `#[global_allocator]` (a `Box` made in the plugin is freed by the
//! host), a panic hook, or `panic = "abort"` (checked: `panic_unwind`).

use std::any::Any;
use std::fmt::Write as _;
use std::mem::{align_of, size_of};
use std::panic::AssertUnwindSafe;

use async_trait::async_trait;
use futures::FutureExt;

use crate::context::{ApiRequest, ApiResponse, FetchError, ScanContext, ScanError};
use crate::model::{GameInfo, GameReport, Opportunity};
use crate::scanner::GameScanner;
use crate::settings::PluginSettings;

/// First bytes of every declaration.
pub const MAGIC: [u8; 8] = *b"SKNSCAN\0";
/// Bumped whenever the declaration or the boundary contract changes (3: `ScanContext::
/// references`, `Strategy::Cross`, `Opportunity::sell_market`).
pub const ABI_VERSION: u32 = 3;
/// The sdk's version.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The rustc that compiled this sdk (`rustc 1.95.0 (...)`).
pub const RUSTC_VERSION: &str = env!("SKINSCAN_RUSTC_VERSION");
/// A hash of the sizes and alignments of every type that crosses the boundary.
pub const LAYOUT_HASH: u64 = layout_hash();

const fn layout_hash() -> u64 {
    let sizes = [
        size_of::<ApiRequest>(),
        align_of::<ApiRequest>(),
        size_of::<ApiResponse>(),
        size_of::<FetchError>(),
        size_of::<ScanError>(),
        size_of::<Result<ApiResponse, FetchError>>(),
        size_of::<Result<GameReport, ScanError>>(),
        size_of::<GameReport>(),
        size_of::<Opportunity>(),
        size_of::<crate::markets::book::ReferenceBook>(),
        size_of::<GameInfo>(),
        size_of::<PluginSettings>(),
        size_of::<Box<dyn GameScanner>>(),
        size_of::<&dyn ScanContext>(),
        size_of::<PluginDeclaration>(),
        ABI_VERSION as usize,
    ];
    // FNV-1a over the numbers.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < sizes.len() {
        hash ^= sizes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// A borrowed UTF-8 string in C layout (pointer and length), for the declaration.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct StrRef {
    ptr: *const u8,
    len: usize,
}

// SAFETY: a `StrRef` only ever points at `'static` string data.
unsafe impl Sync for StrRef {}
// SAFETY: as above.
unsafe impl Send for StrRef {}

impl StrRef {
    /// Wraps a static string.
    pub const fn new(s: &'static str) -> Self {
        StrRef {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// The string, if it is valid UTF-8.
    ///
    /// # Safety
    /// `self` must come from [`StrRef::new`] in a library that is still loaded.
    pub unsafe fn as_str(&self) -> Option<&str> {
        if self.ptr.is_null() {
            return None;
        }
        // SAFETY: per the contract, ptr/len describe live static bytes.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        std::str::from_utf8(bytes).ok()
    }
}

#[doc(hidden)]
/// Makes a guarded scanner. Rust ABI: called only after every check passed.
pub type Constructor = fn() -> Result<Box<dyn GameScanner>, String>;

/// Routes a plugin's log events to the host (C ABI).
pub type LogSink = for<'a> extern "C" fn(&LogRecord<'a>);

#[doc(hidden)]
/// Installs `sink` as the plugin's log destination, passing the host's most verbose enabled
/// level (0 = off, 1 = error ... 5 = trace).
pub type LoggerInstaller = extern "C" fn(sink: LogSink, max_level: u8);

/// One forwarded log event.
#[repr(C)]
#[derive(Debug)]
pub struct LogRecord<'a> {
    /// 1 = error, 2 = warn, 3 = info, 4 = debug, 5 = trace.
    pub level: u8,
    /// The event's target (module path).
    pub target: StrRefBorrowed<'a>,
    /// The message followed by its fields (`paging stopped early error=...`).
    pub message: StrRefBorrowed<'a>,
}

/// A string borrowed for `'a` (one sink call), in C layout. The lifetime ties it to the
/// `&str` it was made from, so safe code cannot keep it past the call and read freed memory.
///
/// ```compile_fail
/// use skinscan_sdk::plugin::StrRefBorrowed;
/// let kept;
/// {
///     let text = String::from("freed at the end of this block");
///     kept = StrRefBorrowed::new(&text);
/// }
/// println!("{}", kept.as_str()); // does not compile: `text` does not live long enough
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct StrRefBorrowed<'a> {
    ptr: *const u8,
    len: usize,
    _borrow: std::marker::PhantomData<&'a str>,
}

impl<'a> StrRefBorrowed<'a> {
    /// Borrows `s`.
    pub fn new(s: &'a str) -> Self {
        StrRefBorrowed {
            ptr: s.as_ptr(),
            len: s.len(),
            _borrow: std::marker::PhantomData,
        }
    }

    /// The string, for as long as the borrow it was made from.
    pub fn as_str(&self) -> &'a str {
        // SAFETY: built by `new` from a `&'a str`, and the lifetime keeps that borrow alive.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        std::str::from_utf8(bytes).unwrap_or("<invalid utf-8>")
    }
}

/// What a plugin library exports under `skinscan_plugin_<name>`.
#[repr(C)]
#[derive(Debug)]
pub struct PluginDeclaration {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`ABI_VERSION`] of the sdk the plugin was built with.
    pub abi_version: u32,
    /// 1 when the plugin was built with `panic = "unwind"`.
    pub panic_unwind: u8,
    /// [`LAYOUT_HASH`] of the sdk the plugin was built with.
    pub layout_hash: u64,
    /// [`SDK_VERSION`].
    pub sdk_version: StrRef,
    /// [`RUSTC_VERSION`].
    pub rustc_version: StrRef,
    /// The plugin's name (its game id).
    pub name: StrRef,
    /// Makes the scanner, wrapped in [`Guarded`].
    pub constructor: Constructor,
    /// Installs the log forwarder (only called for libraries loaded at run time).
    pub install_logger: LoggerInstaller,
}

#[doc(hidden)]
/// Calls `make` and wraps its scanner in [`Guarded`], turning a panic into an error. Used by
/// [`declare_plugin!`](crate::declare_plugin); generic so it compiles into the plugin.
pub fn construct<S: GameScanner + 'static>(
    make: fn() -> S,
) -> Result<Box<dyn GameScanner>, String> {
    std::panic::catch_unwind(|| {
        let scanner = make();
        let info = scanner.info();
        Box::new(Guarded {
            inner: scanner,
            info,
        }) as Box<dyn GameScanner>
    })
    .map_err(|p| format!("plugin constructor panicked: {}", panic_message(&*p)))
}

#[doc(hidden)]
/// Wraps a scanner so a panic in it becomes [`ScanError::Panicked`] on the plugin's side of
/// the boundary.
#[derive(Debug)]
pub struct Guarded<S> {
    inner: S,
    info: GameInfo,
}

#[async_trait]
impl<S: GameScanner> GameScanner for Guarded<S> {
    fn info(&self) -> GameInfo {
        self.info.clone()
    }

    async fn scan(
        &self,
        ctx: &dyn ScanContext,
        settings: &PluginSettings,
    ) -> Result<GameReport, ScanError> {
        match AssertUnwindSafe(self.inner.scan(ctx, settings))
            .catch_unwind()
            .await
        {
            Ok(result) => result,
            Err(panic) => Err(ScanError::Panicked(panic_message(&*panic))),
        }
    }

    fn check_settings(&self, settings: &PluginSettings) -> Result<(), ScanError> {
        std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.check_settings(settings)))
            .unwrap_or_else(|panic| Err(ScanError::Panicked(panic_message(&*panic))))
    }

    fn watch_judge(
        &self,
        settings: &PluginSettings,
    ) -> Option<Result<crate::strategy::Judge, ScanError>> {
        let judge = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.watch_judge(settings)))
            .unwrap_or_else(|panic| Some(Err(ScanError::Panicked(panic_message(&*panic)))))?;
        // The rules run plugin code each time the host judges a listing: guard them here, on
        // the plugin's side (a panicking rule excludes the listing).
        Some(judge.map(|mut j| {
            let rules = std::mem::replace(&mut j.rules, crate::scanner::GameRules::none());
            j.rules = crate::scanner::GameRules::excluding(move |l| {
                std::panic::catch_unwind(AssertUnwindSafe(|| rules.excludes(l))).unwrap_or(true)
            });
            j
        }))
    }
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}

#[doc(hidden)]
/// The plugin side of log forwarding: a `tracing` subscriber (in the plugin's own copy of
/// tracing) that hands every event to the host's sink.
pub fn install_forwarding_logger(sink: LogSink, max_level: u8) {
    let subscriber = Forwarder {
        sink,
        max_level: match max_level {
            0 => None,
            1 => Some(tracing::Level::ERROR),
            2 => Some(tracing::Level::WARN),
            3 => Some(tracing::Level::INFO),
            4 => Some(tracing::Level::DEBUG),
            _ => Some(tracing::Level::TRACE),
        },
    };
    // Fails only when a default is already set: then the plugin shares the host's tracing (a
    // statically linked plugin), and its events already reach the host.
    if tracing::dispatcher::set_global_default(tracing::Dispatch::new(subscriber)).is_ok() {
        tracing::callsite::rebuild_interest_cache();
    }
}

struct Forwarder {
    sink: LogSink,
    max_level: Option<tracing::Level>,
}

impl tracing::Subscriber for Forwarder {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        self.max_level.is_some_and(|max| *metadata.level() <= max)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(match self.max_level {
            None => tracing::level_filters::LevelFilter::OFF,
            Some(l) => tracing::level_filters::LevelFilter::from_level(l),
        })
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        // Plugin spans are not forwarded: the host's own `game` span already frames them.
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = MessageText::default();
        event.record(&mut text);
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => 1,
            tracing::Level::WARN => 2,
            tracing::Level::INFO => 3,
            tracing::Level::DEBUG => 4,
            tracing::Level::TRACE => 5,
        };
        let message = if text.fields.is_empty() {
            text.message
        } else {
            format!("{}{}", text.message, text.fields)
        };
        let record = LogRecord {
            level,
            target: StrRefBorrowed::new(event.metadata().target()),
            message: StrRefBorrowed::new(&message),
        };
        (self.sink)(&record);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

#[derive(Default)]
struct MessageText {
    message: String,
    fields: String,
}

impl tracing::field::Visit for MessageText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

/// Exports a plugin from a `cdylib` (and makes its declaration available to a host that
/// links it statically).
///
/// `declare_plugin!(csgo, make)` defines `pub static DECLARATION: PluginDeclaration` exported
/// under the symbol `skinscan_plugin_csgo`, where `make: fn() -> impl GameScanner`. One symbol
/// per name, so a host can link several plugins without clashes.
///
/// ```
/// use skinscan_sdk::prelude::*;
///
/// struct Demo;
/// impl GameProfile for Demo {
///     fn info(&self) -> GameInfo {
///         const DEMO: skinscan_sdk::model::GameSpec =
///             skinscan_sdk::model::GameSpec::new("demo", "Demo", "demo", 700);
///         DEMO.info()
///     }
/// }
///
/// fn make() -> ProfileScanner<Demo> {
///     ProfileScanner::new(Demo)
/// }
///
/// skinscan_sdk::declare_plugin!(demo, make);
/// # fn main() {
/// assert_eq!(DECLARATION.abi_version, skinscan_sdk::plugin::ABI_VERSION);
/// # }
/// ```
#[macro_export]
macro_rules! declare_plugin {
    ($name:ident, $make:path) => {
        #[doc = concat!("The `", stringify!($name), "` plugin's declaration, exported as `skinscan_plugin_", stringify!($name), "`.")]
        #[unsafe(export_name = concat!("skinscan_plugin_", stringify!($name)))]
        pub static DECLARATION: $crate::plugin::PluginDeclaration = $crate::plugin::PluginDeclaration {
            magic: $crate::plugin::MAGIC,
            abi_version: $crate::plugin::ABI_VERSION,
            panic_unwind: if cfg!(panic = "unwind") { 1 } else { 0 },
            layout_hash: $crate::plugin::LAYOUT_HASH,
            sdk_version: $crate::plugin::StrRef::new($crate::plugin::SDK_VERSION),
            rustc_version: $crate::plugin::StrRef::new($crate::plugin::RUSTC_VERSION),
            name: $crate::plugin::StrRef::new(stringify!($name)),
            constructor: {
                fn __skinscan_construct() -> ::std::result::Result<
                    ::std::boxed::Box<dyn $crate::GameScanner>,
                    ::std::string::String,
                > {
                    $crate::plugin::construct($make)
                }
                __skinscan_construct
            },
            install_logger: {
                extern "C" fn __skinscan_install_logger(sink: $crate::plugin::LogSink, max_level: u8) {
                    $crate::plugin::install_forwarding_logger(sink, max_level)
                }
                __skinscan_install_logger
            },
        };
    };
}

/// A whole plugin for a game that needs only its identity and the default strategy: the
/// profile type, `scanner()` and the export, from a [`GameSpec`](crate::model::GameSpec).
///
/// ```
/// use skinscan_sdk::model::GameSpec;
/// use skinscan_sdk::GameScanner;
///
/// skinscan_sdk::profile_plugin!(rust, RustGame, GameSpec::new("rust", "Rust", "rust", 770));
///
/// # fn main() {
/// assert_eq!(scanner().info().market_game_id, "rust");
/// # }
/// ```
#[macro_export]
macro_rules! profile_plugin {
    ($name:ident, $profile:ident, $spec:expr) => {
        /// The game's profile: its identity; scanning is the sdk's default strategy.
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $profile;

        impl $profile {
            /// The game's identity.
            pub const SPEC: $crate::model::GameSpec = $spec;
        }

        impl $crate::GameProfile for $profile {
            fn info(&self) -> $crate::GameInfo {
                Self::SPEC.info()
            }
        }

        /// Makes the scanner (the plugin's constructor).
        pub fn scanner() -> $crate::ProfileScanner<$profile> {
            $crate::ProfileScanner::new($profile)
        }

        $crate::declare_plugin!($name, scanner);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_extracted() {
        let p = std::panic::catch_unwind(|| panic!("boom {}", 7)).unwrap_err();
        assert_eq!(panic_message(&*p), "boom 7");
        let p = std::panic::catch_unwind(|| panic!("static")).unwrap_err();
        assert_eq!(panic_message(&*p), "static");
    }

    struct Picky;

    #[async_trait]
    impl GameScanner for Picky {
        fn info(&self) -> GameInfo {
            GameInfo {
                id: crate::model::GameId::new("picky").unwrap(),
                display_name: "Picky".into(),
                market_game_id: "a8db".into(),
                price_game: "picky".into(),
                fee: crate::money::Bps::new(700).unwrap(),
            }
        }
        async fn scan(
            &self,
            _: &dyn ScanContext,
            _: &PluginSettings,
        ) -> Result<GameReport, ScanError> {
            panic!("scan blew up")
        }
        fn check_settings(&self, settings: &PluginSettings) -> Result<(), ScanError> {
            if settings.bool("explode", false)? {
                panic!("check blew up");
            }
            Ok(settings.ensure_known(&["explode"])?)
        }
    }

    #[test]
    fn guarded_scanners_forward_setting_checks_and_contain_panics() {
        let scanner = construct(|| Picky).unwrap();
        assert_eq!(scanner.info().id.as_str(), "picky");
        let mut settings = PluginSettings::new("picky", Default::default());
        assert!(scanner.check_settings(&settings).is_ok());
        settings.set(
            "colour",
            crate::settings::SettingValue::String("red".into()),
        );
        let err = scanner.check_settings(&settings).unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
        let mut settings = PluginSettings::new("picky", Default::default());
        settings.set("explode", crate::settings::SettingValue::Bool(true));
        let err = scanner.check_settings(&settings).unwrap_err();
        assert!(
            matches!(&err, ScanError::Panicked(m) if m == "check blew up"),
            "{err}"
        );
    }

    #[test]
    fn str_refs_round_trip() {
        let r = StrRef::new("csgo");
        // SAFETY: made from a static string just above.
        assert_eq!(unsafe { r.as_str() }, Some("csgo"));
    }

    #[test]
    fn the_rustc_version_was_captured() {
        assert!(RUSTC_VERSION.starts_with("rustc "), "{RUSTC_VERSION}");
    }
}
