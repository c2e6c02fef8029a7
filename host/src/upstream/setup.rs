//! Building a tenant's upstream from its [`Settings`], and rebuilding it on
//! reload with only what changed: the same settings and files keep the
//! whole upstream; a new identity, new roots or new `[upstream]` settings
//! give a new pool; only new login settings (the session fingerprint) give
//! a new session.

use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{ApiBudget, ApiUsage, Observer, SetupError, TenantUpstream};
use crate::config::{IdentitySource, Proxy, Upstream};
use crate::identity::{self, ClientIdentity};
use crate::session::{Manager, OnLogin, SessionSettings, SessionStore};
use crate::transport::{self, Exchange, Transport, TransportError};

/// What one tenant's upstream needs, built from the config by the gateway
/// (or by `twoway login` / `twoway call`).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The tenant's name (errors, logs).
    pub tenant: String,
    /// The client certificate for mutual TLS, if the tenant has one.
    pub identity: Option<IdentitySource>,
    /// CA files trusted for the API besides the system roots.
    pub extra_roots: Vec<PathBuf>,
    /// API calls go to `mutual_auth_port` of the instance when set.
    pub mutual_auth: bool,
    pub mutual_auth_port: u16,
    /// `[upstream]`: timeouts, the body cap and pooling.
    pub transport: Upstream,
    /// The outbound proxy (logins and API calls both go through it).
    pub proxy: Option<Proxy>,
    pub session: SessionSettings,
    /// `api_budget_per_day` and `api_reserve`.
    pub api_budget: ApiBudget,
}

/// What a pool is built from, file contents included.
struct Pool {
    identity: Option<Arc<ClientIdentity>>,
    roots: [u8; 32],
}

impl Pool {
    fn load(settings: &Settings) -> Result<Self, SetupError> {
        let identity = match &settings.identity {
            Some(source) => Some(Arc::new(identity::load(source).map_err(|source| {
                SetupError::Identity {
                    tenant: settings.tenant.clone(),
                    source,
                }
            })?)),
            None => None,
        };
        Ok(Self {
            identity,
            roots: roots_digest(settings)?,
        })
    }

    /// True when this pool would present the same identity and trust the
    /// same roots as `old`.
    fn same_as(&self, old: &TenantUpstream) -> bool {
        let same_identity = match (&self.identity, &old.identity) {
            (None, None) => true,
            (Some(now), Some(then)) => {
                now.chain == then.chain && now.key.secret_der() == then.key.secret_der()
            }
            _ => false,
        };
        same_identity && self.roots == old.roots
    }

    fn transport(
        &self,
        settings: &Settings,
        observer: Option<&Arc<dyn Observer>>,
    ) -> Result<Transport, SetupError> {
        if let Some(id) = &self.identity {
            for warning in &id.warnings {
                tracing::warn!(tenant = %settings.tenant, "{warning}");
            }
        }
        let tls = transport::client_config(self.identity.as_deref(), &settings.extra_roots)
            .map_err(|source| SetupError::Transport {
                tenant: settings.tenant.clone(),
                source,
            })?;
        let on_handshake = observer.map(|observer| {
            let (observer, tenant) = (observer.clone(), settings.tenant.clone());
            Arc::new(move || observer.handshake(&tenant)) as transport::OnHandshake
        });
        Ok(Transport::with_proxy(
            tls,
            &settings.transport,
            settings.proxy.clone(),
            on_handshake,
        ))
    }
}

/// The session layer's hook telling `observer` of each login of the tenant.
fn on_login(settings: &Settings, observer: Option<&Arc<dyn Observer>>) -> Option<OnLogin> {
    let (observer, tenant) = (observer?.clone(), settings.tenant.clone());
    Some(Arc::new(move |success, took| {
        observer.login(&tenant, success, took)
    }))
}

/// A digest of the extra roots' contents (a rotated CA file counts as new).
fn roots_digest(settings: &Settings) -> Result<[u8; 32], SetupError> {
    let mut hash = Sha256::new();
    for path in &settings.extra_roots {
        let bytes = std::fs::read(path).map_err(|e| SetupError::Transport {
            tenant: settings.tenant.clone(),
            source: TransportError::Roots {
                path: path.clone(),
                reason: e.to_string(),
            },
        })?;
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(&bytes);
    }
    Ok(hash.finalize().into())
}

impl TenantUpstream {
    /// Loads the tenant's identity and builds its transport and session
    /// manager, with its session kept in memory.
    pub fn new(settings: Settings) -> Result<Self, SetupError> {
        Self::with_store(settings, Arc::new(crate::session::MemoryStore::default()))
    }

    /// [`TenantUpstream::new`] with the session kept in `store` (shared by
    /// all tenants of a gateway, or by a fleet).
    pub fn with_store(
        settings: Settings,
        store: Arc<dyn SessionStore>,
    ) -> Result<Self, SetupError> {
        Self::build(settings, store, None)
    }

    /// [`TenantUpstream::with_store`] telling `observer` what it does
    /// (calls, logins, handshakes), and so do its successors.
    pub fn observed(
        settings: Settings,
        store: Arc<dyn SessionStore>,
        observer: Arc<dyn Observer>,
    ) -> Result<Self, SetupError> {
        Self::build(settings, store, Some(observer))
    }

    fn build(
        settings: Settings,
        store: Arc<dyn SessionStore>,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<Self, SetupError> {
        let pool = Pool::load(&settings)?;
        let transport = pool.transport(&settings, observer.as_ref())?;
        let exchange: Arc<dyn Exchange> = Arc::new(transport.clone());
        let on_login = on_login(&settings, observer.as_ref());
        Ok(Self {
            sessions: Manager::new(settings.session.clone(), exchange.clone(), store, on_login),
            exchange,
            identity: pool.identity,
            roots: pool.roots,
            settings,
            transport,
            usage: Arc::new(ApiUsage::default()),
            observer,
        })
    }

    /// The upstream for `settings` after a reload, reusing what did not
    /// change: `self` itself when nothing did, its pool when the identity,
    /// the roots (paths and contents) and the transport settings are the
    /// same, and its session when the login settings are (see
    /// [`Manager::successor`]). Nothing of `self` is changed, so a reload
    /// that fails later leaves no trace.
    pub fn successor(self: &Arc<Self>, settings: Settings) -> Result<Arc<Self>, SetupError> {
        let pool = Pool::load(&settings)?;
        let same_pool = pool.same_as(self)
            && settings.identity == self.settings.identity
            && settings.extra_roots == self.settings.extra_roots
            && settings.transport == self.settings.transport
            && settings.proxy == self.settings.proxy;
        if same_pool && settings == self.settings {
            return Ok(self.clone());
        }
        let (transport, exchange, identity) = if same_pool {
            (
                self.transport.clone(),
                self.exchange.clone(),
                self.identity.clone(),
            )
        } else {
            let transport = pool.transport(&settings, self.observer.as_ref())?;
            let exchange: Arc<dyn Exchange> = Arc::new(transport.clone());
            (transport, exchange, pool.identity)
        };
        let sessions = self
            .sessions
            .successor(settings.session.clone(), exchange.clone());
        Ok(Arc::new(Self {
            settings,
            identity,
            roots: pool.roots,
            transport,
            exchange,
            sessions,
            usage: self.usage.clone(),
            observer: self.observer.clone(),
        }))
    }

    /// [`TenantUpstream::with_store`] sending logins and API calls through
    /// `exchange` instead of its pool (unit tests script the API with it).
    #[cfg(test)]
    pub(crate) fn with_exchange(
        settings: Settings,
        store: Arc<dyn SessionStore>,
        exchange: Arc<dyn Exchange>,
    ) -> Result<Self, SetupError> {
        let mut upstream = Self::with_store(settings, store.clone())?;
        upstream.sessions = Manager::new(
            upstream.settings.session.clone(),
            exchange.clone(),
            store,
            None,
        );
        upstream.exchange = exchange;
        Ok(upstream)
    }

    /// The settings this upstream was built with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}
