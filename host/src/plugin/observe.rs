//! What the plugin runtime tells whoever counts (the gateway's metrics),
//! where it happens: a component file of a slot going live or failing to
//! load, and log lines a call dropped over its cap. Slots a reload makes
//! tell the same observer, so counts go on across reloads.

/// Receives what the [`super::Runtime`] and the registry's slots do.
pub trait Observer: Send + Sync {
    /// The file of (tenant, workflow) loaded and went live (`true`), or
    /// failed to load (`false`).
    fn plugin_loaded(&self, tenant: &str, workflow: &str, live: bool);

    /// A call of (tenant, workflow) dropped `lines` log lines over its cap.
    fn log_lines_dropped(&self, tenant: &str, workflow: &str, lines: u64);
}
