//! Holds back requests to a host this pool has not reached yet until the
//! first one has its connection. The pool learns that a connection speaks
//! HTTP/2 only after its handshake, so without this a cold stampede opens
//! one connection per request; with it, the first connection carries them
//! all when HTTP/2 was negotiated, and over HTTP/1.1 the others then open
//! what they need, as before. A host stays warm for the pool's life.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Hosts tracked per pool; past this, requests are not held back (a pool
/// talks to a handful of instance hosts).
const MAX_HOSTS: usize = 256;

/// The hosts of one pool.
#[derive(Default)]
pub struct Warmup {
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

#[derive(Default)]
struct Host {
    warm: AtomicBool,
    /// Held by the request that makes the host's first connection.
    first: Arc<tokio::sync::Mutex<()>>,
}

/// Held while a request may be the host's first: [`Pass::connected`] once
/// it has its answer.
pub struct Pass {
    host: Option<Arc<Host>>,
    _first: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Pass {
    /// The request got an answer: its connection is in the pool.
    pub fn connected(&self) {
        if let Some(host) = &self.host {
            host.warm.store(true, Ordering::Release);
        }
    }
}

impl Warmup {
    /// Waits while another request makes `authority`'s first connection.
    pub async fn pass(&self, authority: &str) -> Pass {
        let host = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            match hosts.get(authority) {
                Some(host) => host.clone(),
                None if hosts.len() >= MAX_HOSTS => {
                    return Pass {
                        host: None,
                        _first: None,
                    };
                }
                None => hosts.entry(authority.to_string()).or_default().clone(),
            }
        };
        if host.warm.load(Ordering::Acquire) {
            return Pass {
                host: None,
                _first: None,
            };
        }
        let first = host.first.clone().lock_owned().await;
        if host.warm.load(Ordering::Acquire) {
            // The first one connected while this one waited.
            return Pass {
                host: None,
                _first: None,
            };
        }
        Pass {
            host: Some(host),
            _first: Some(first),
        }
    }
}
