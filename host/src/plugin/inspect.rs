//! What `twoway plugin check` shows of a component: it compiles, fits the
//! world (the same checks as a load), and what it imports and exports.

use std::path::Path;

use super::{LoadError, Runtime, WIT_VERSION, World, version_id, wit_version};

/// A component that loaded, described.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    /// Size of the file in bytes.
    pub size: usize,
    /// The version id the gateway would show (`x-twoway-plugin-version`).
    pub version: String,
    /// Interfaces and functions it imports (WASI and `twoway:gateway/*`).
    pub imports: Vec<String>,
    /// What it exports (`handle` for a workflow, `on-request` and
    /// `on-response` for a policy).
    pub exports: Vec<String>,
    /// The world it is a component of: `workflow` or `policy`.
    pub world: &'static str,
    /// The `twoway:gateway` version it was built against (`0.3.3`).
    pub wit: String,
    /// Bytes of initialised data in its memories (its data segments): the
    /// memory image every live instance maps, so what each call in flight
    /// holds in resident pages at the least.
    pub memory_image: u64,
}

impl Runtime {
    /// Compiles and links `bytes` as a load does (as a workflow, else as a
    /// policy), then lists the component's imports and exports.
    pub fn inspect(&self, path: &Path, bytes: &[u8]) -> Result<Inspection, LoadError> {
        let component = self.compile(path, bytes)?;
        let world = match self.link(path, &component, World::Workflow) {
            Ok(_) => World::Workflow,
            Err(as_workflow) => match self.link(path, &component, World::Policy) {
                Ok(_) => World::Policy,
                Err(_) => return Err(as_workflow),
            },
        };
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
            world: world.name(),
            wit: wit_version(&self.engine, &component).unwrap_or_else(|| WIT_VERSION.into()),
            // It compiled, so it parses; a reader error only stops the count.
            memory_image: memory_image(bytes),
        })
    }
}

/// Sums the active data segments of every core module in `bytes` (nested
/// modules included): what instantiation copies or maps into memories.
fn memory_image(bytes: &[u8]) -> u64 {
    let mut total = 0;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let Ok(wasmparser::Payload::DataSection(segments)) = payload else {
            continue;
        };
        for segment in segments.into_iter().flatten() {
            if matches!(segment.kind, wasmparser::DataKind::Active { .. }) {
                total += segment.data.len() as u64;
            }
        }
    }
    total
}
