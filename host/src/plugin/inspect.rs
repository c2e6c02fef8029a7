//! What `twoway plugin check` shows of a component: it compiles, fits the
//! world (the same checks as a load), and what it imports and exports.

use std::path::Path;

use super::{LoadError, Runtime, version_id};

/// A component that loaded, described.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    /// Size of the file in bytes.
    pub size: usize,
    /// The version id the gateway would show (`x-twoway-plugin-version`).
    pub version: String,
    /// Interfaces and functions it imports (WASI and `twoway:gateway/*`).
    pub imports: Vec<String>,
    /// What it exports (`twoway:gateway/workflow@...` among them).
    pub exports: Vec<String>,
}

impl Runtime {
    /// Compiles and links `bytes` as a load does, then lists the
    /// component's imports and exports.
    pub fn inspect(&self, path: &Path, bytes: &[u8]) -> Result<Inspection, LoadError> {
        let component = self.compile(path, bytes)?;
        self.link(path, &component)?;
        let ty = component.component_type();
        let names = |items: &mut dyn Iterator<Item = String>| {
            let mut names: Vec<String> = items.collect();
            names.sort();
            names
        };
        Ok(Inspection {
            size: bytes.len(),
            version: version_id(bytes),
            imports: names(&mut ty.imports(&self.engine).map(|(n, _)| n.to_string())),
            exports: names(&mut ty.exports(&self.engine).map(|(n, _)| n.to_string())),
        })
    }
}
