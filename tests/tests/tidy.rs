//! Repository rules that no compiler checks: every Rust file says what it is for, plugins
//! do no I/O of their own, the sdk stays runtime-free, and the shipped config documents
//! every setting the games accept.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn files_under(parts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in parts {
        rust_files(&workspace().join(p), &mut out);
    }
    assert!(!out.is_empty());
    out
}

#[test]
fn every_rust_file_starts_with_a_module_comment() {
    let missing: Vec<String> = files_under(&["sdk", "core", "plugins", "tests", "examples"])
        .iter()
        .filter(|p| !std::fs::read_to_string(p).unwrap().starts_with("//!"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` comment: {missing:#?}"
    );
}

#[test]
fn plugins_do_no_io_of_their_own() {
    // A dynamic plugin carries its own copy of tokio's thread-locals: sockets, timers and
    // spawned tasks must go through the host (ScanContext).
    let forbidden = [
        "tokio",
        "std::net",
        "hyper",
        "std::thread::sleep",
        "std::fs",
    ];
    let mut found = Vec::new();
    for file in files_under(&["plugins", "examples", "sdk/src"]) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in forbidden {
                if code.contains(word) {
                    found.push(format!("{}:{}: {word}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "plugin-side code doing its own I/O: {found:#?}"
    );
}

#[test]
fn the_sdk_and_the_plugins_do_not_depend_on_tokio() {
    for manifest in [
        "sdk/Cargo.toml",
        "plugins/csgo/Cargo.toml",
        "plugins/dota2/Cargo.toml",
        "plugins/rust/Cargo.toml",
        "plugins/tf2/Cargo.toml",
        "examples/plugin-template/Cargo.toml",
    ] {
        let text = std::fs::read_to_string(workspace().join(manifest)).unwrap();
        assert!(!text.contains("tokio"), "{manifest} depends on tokio");
    }
    // Nor transitively: the sdk's entries in Cargo.lock.
    let lock = std::fs::read_to_string(workspace().join("Cargo.lock")).unwrap();
    let sdk = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"skinscan-sdk\""))
        .expect("the sdk is in Cargo.lock");
    assert!(
        !sdk.contains("\"tokio"),
        "skinscan-sdk depends on tokio: {sdk}"
    );
}

#[test]
fn the_shipped_config_documents_every_common_setting() {
    let config = std::fs::read_to_string(workspace().join("config/config.toml")).unwrap();
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    for key in skinscan_sdk::strategy::COMMON_SETTINGS {
        assert!(
            config.contains(&format!("#   {key} ")),
            "config/config.toml does not document {key}"
        );
        assert!(
            readme.contains(&format!("`{key}`")),
            "README.md does not document {key}"
        );
    }
}
