//! The core's layers, lowest first, and the test that keeps them true: a
//! module uses its own layer and the ones below it, never one above
//! (docs/architecture.md, "The layers"). Every `crate::` path in the code
//! of `host/src/**` (comment lines aside) is checked; a file outside every
//! layer fails too, so a new top-level module must be given its place here.

use std::path::Path;

/// The core's top-level modules, lowest first.
const LAYERS: &[&str] = &[
    "pem",
    "config",
    "identity",
    "transport",
    "session",
    "upstream",
    "plugin",
    "version",
    "gateway",
];

/// Re-exported from `twoway-wire`, below every layer.
const WIRE: &[&str] = &["problem", "salesforce", "secret", "xml"];

/// Files of the crate root, which names every layer.
const ROOT: &[&str] = &["lib.rs", "layers.rs"];

/// The layer of `file` (a path under `host/src`, `/`-separated).
fn layer_of(file: &str) -> Option<usize> {
    let top = file.split('/').next()?.trim_end_matches(".rs");
    LAYERS.iter().position(|l| *l == top)
}

/// Each top-level module a `crate::` path in `text` names, with its line:
/// `crate::a::...` names `a`, `crate::{a::x, b}` names `a` and `b`. Lines
/// that are comments are skipped; a `crate::` anywhere else counts (a
/// string that holds one is flagged too: rare, and the safe side).
fn named_modules(text: &str) -> Vec<(usize, String)> {
    let code: String = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("//") {
                ""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut named = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The first name of each item at the group's own depth.
            let mut depth = 1;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 1 => break,
                    '}' => depth -= 1,
                    ',' if depth == 1 => item_start = true,
                    c if item_start && depth == 1 && !c.is_whitespace() => {
                        item_start = false;
                        let name = ident(&group[i..]);
                        let offset = at + "crate::{".len() + i;
                        named.push((line_of(offset), name));
                    }
                    _ => {}
                }
            }
        } else {
            named.push((line_of(at), ident(rest)));
        }
    }
    named
}

/// What is wrong with the `crate::` paths of `file` (its path under
/// `host/src`), whose content is `text`.
fn violations(file: &str, text: &str) -> Vec<String> {
    if ROOT.contains(&file) {
        return Vec::new();
    }
    let Some(own) = layer_of(file) else {
        return vec![format!(
            "{file}: in no layer: give its top-level module a place in host/src/layers.rs LAYERS and docs/architecture.md"
        )];
    };
    let mut found = Vec::new();
    for (line, name) in named_modules(text) {
        match LAYERS.iter().position(|l| *l == name) {
            Some(used) if used > own => found.push(format!(
                "{file}:{line}: {} uses crate::{name}, a layer above it (order: {})",
                LAYERS[own],
                LAYERS.join(" < ")
            )),
            Some(_) => {}
            None if WIRE.contains(&name.as_str()) || name == "self" => {}
            None => found.push(format!(
                "{file}:{line}: crate::{name} is in no layer (host/src/layers.rs)"
            )),
        }
    }
    found
}

/// Every `.rs` file under `dir`, as paths relative to `root`.
fn sources(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).unwrap();
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn no_module_uses_a_layer_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    assert!(files.len() > 50, "found only {files:?}");
    let found: Vec<String> = files
        .iter()
        .flat_map(|file| violations(file, &std::fs::read_to_string(root.join(file)).unwrap()))
        .collect();
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_check_catches_a_use_from_above() {
    let bad = "//! config\nuse std::fmt;\nuse crate::gateway::Generation;\n";
    assert_eq!(
        violations("config/mod.rs", bad),
        [
            "config/mod.rs:3: config uses crate::gateway, a layer above it (order: pem < config < identity < transport < session < upstream < plugin < version < gateway)"
        ]
    );
    // Inside a group, across lines, and as a path in an expression.
    let grouped = "use crate::{\n    pem,\n    session::{Manager, Session},\n};\n";
    assert_eq!(violations("transport/tls.rs", grouped).len(), 1);
    assert!(violations("transport/tls.rs", grouped)[0].starts_with("transport/tls.rs:3: "));
    let inline = "fn f() { let x = crate::plugin::MAX; }";
    assert_eq!(violations("upstream.rs", inline).len(), 1);
    // Below, the same layer, the wire crate and comments are fine.
    let fine = "use crate::{config, pem::certificates, secret::Secret};\nuse crate::session::x;\n// crate::gateway\n/// [`crate::gateway`]\n";
    assert_eq!(
        violations("session/fleet/mod.rs", fine),
        Vec::<String>::new()
    );
    // A module in no layer, and a file outside them.
    assert_eq!(violations("gateway/mod.rs", "use crate::testkit;").len(), 1);
    assert_eq!(violations("metrics.rs", "").len(), 1);
    assert!(violations("lib.rs", "use crate::gateway;").is_empty());
}
