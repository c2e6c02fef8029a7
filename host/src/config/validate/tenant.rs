//! One `[[tenant]]`: its name, URLs, limits, callers and workflows.

use super::*;

impl Checker<'_> {
    pub(super) fn tenant(&mut self, key: &str, t: RawTenant, plugins: &Plugins) -> Option<Tenant> {
        if t.name.is_empty()
            || !t
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.problem(
                &format!("{key}.name"),
                "use letters, digits, '-' and '_' (it appears in URLs)",
            );
        }
        let login_url = t
            .login_url
            .as_deref()
            .unwrap_or("https://login.salesforce.com");
        let login_url = match login_url.parse::<http::Uri>() {
            Ok(u) if u.scheme_str() == Some("https") && u.host().is_some() => Some(u),
            _ => {
                self.problem(
                    &format!("{key}.login_url"),
                    "is not an https:// URL with a host (the value is not shown: it may hold credentials)".to_string(),
                );
                None
            }
        };
        let api_version = t.api_version.unwrap_or_else(|| "62.0".to_string());
        if !is_api_version(&api_version) {
            self.problem(
                &format!("{key}.api_version"),
                "is not a version like \"62.0\" (the value is not shown: it may be a secret pasted in the wrong place)".to_string(),
            );
        }
        let api_keys = self.api_keys(key, t.api_keys_env.as_deref(), t.api_keys_file.as_deref());
        let identity = t
            .client_identity
            .and_then(|i| self.identity(&format!("{key}.client_identity"), i));
        if t.mutual_auth && identity.is_none() {
            self.problem(
                &format!("{key}.mutual_auth"),
                "mutual_auth = true needs a client_identity (pem, cert+key, or pkcs12)",
            );
        }
        let extra_roots = t
            .extra_roots
            .iter()
            .map(|p| self.existing_file(&format!("{key}.extra_roots"), self.path(p)))
            .collect();
        let auth = self.auth(&format!("{key}.auth"), t.auth, login_url.as_ref());
        let proxy = self.proxy(&format!("{key}.proxy"), t.proxy);
        let mut workflow_names = BTreeSet::new();
        let mut workflows = Vec::new();
        for w in t.workflows {
            let wkey = format!("{key}.workflow[{}]", w.name);
            if !workflow_names.insert(w.name.clone()) {
                self.problem(
                    &wkey,
                    "a workflow of this name is already defined for this tenant",
                );
            }
            if w.name.is_empty()
                || !w
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                self.problem(
                    &format!("{wkey}.name"),
                    "use letters, digits, '-' and '_' (it appears in URLs)",
                );
            }
            let limits = self.plugin_limits(
                &wkey,
                w.memory_mb,
                w.timeout_ms,
                (&format!("{wkey}.max_output_kb"), w.max_output_kb),
                plugins.limits,
            );
            workflows.push(Workflow {
                name: w.name,
                plugin: plugins.dir.join(&w.plugin),
                config: w.config,
                limits,
            });
        }
        let policy = t.policy.map(|p| {
            let pkey = format!("{key}.policy");
            if !t.front_door {
                self.problem(
                    &pkey,
                    "a policy runs at the front door: set front_door = true for this tenant",
                );
            }
            let limits = self.plugin_limits(
                &pkey,
                p.memory_mb,
                p.timeout_ms,
                (&format!("{pkey}.max_output_kb"), p.max_output_kb),
                plugins.limits,
            );
            Workflow {
                name: "policy".into(),
                plugin: plugins.dir.join(&p.plugin),
                config: p.config,
                limits,
            }
        });
        let callers = t.callers.map(|c| crate::config::CallerPolicy {
            ca: c
                .ca
                .map(|ca| self.existing_file(&format!("{key}.callers.ca"), self.path(&ca))),
            fingerprints: c
                .fingerprints
                .iter()
                .map(|f| crate::config::CallerPolicy::normalise(f))
                .collect(),
            subjects: self.names(
                &format!("{key}.callers.subjects"),
                &c.subjects,
                crate::config::names::DistinguishedName::parse,
            ),
            sans: self.names(
                &format!("{key}.callers.sans"),
                &c.sans,
                crate::config::names::SubjectAltName::parse,
            ),
        });
        if callers.as_ref().is_some_and(|c| {
            c.ca.is_none()
                && c.fingerprints.is_empty()
                && c.subjects.is_empty()
                && c.sans.is_empty()
        }) {
            self.problem(
                &format!("{key}.callers"),
                "give ca and/or at least one of fingerprints, subjects, sans",
            );
        }
        if !workflows.is_empty()
            && t.api_keys_env.is_none()
            && t.api_keys_file.is_none()
            && callers.is_none()
        {
            self.problem(key, "set api_keys_env / api_keys_file and/or callers: a tenant must say who may call it");
        }
        let budget = t.login_budget_per_hour.unwrap_or(60);
        if budget == 0 || budget > 3600 {
            self.problem(
                &format!("{key}.login_budget_per_hour"),
                "between 1 and 3600 (Salesforce allows 3600 logins per user per hour)",
            );
        }
        let api_budget_per_day = t.api_budget_per_day.map(|n| {
            self.bounded(
                &format!("{key}.api_budget_per_day"),
                Some(n),
                n,
                1..=MAX_API_REQUESTS,
            )
        });
        let api_reserve = t.api_reserve.map(|n| {
            self.bounded(
                &format!("{key}.api_reserve"),
                Some(n),
                n,
                0..=MAX_API_REQUESTS,
            )
        });
        let login_timeout_ms = t.login_timeout_ms.unwrap_or(8_000);
        if login_timeout_ms == 0 || login_timeout_ms > 600_000 {
            self.problem(
                &format!("{key}.login_timeout_ms"),
                "between 1 and 600000 (milliseconds one login may take; keep it below [plugins] timeout_ms)",
            );
        }
        Some(Tenant {
            name: t.name,
            api_keys,
            login_url: login_url?,
            api_version,
            mutual_auth: t.mutual_auth,
            mutual_auth_port: self.bounded(
                &format!("{key}.mutual_auth_port"),
                t.mutual_auth_port,
                8443,
                1..=u16::MAX,
            ),
            identity,
            extra_roots,
            login_budget_per_hour: budget,
            api_budget_per_day,
            api_reserve,
            session_seconds: self.bounded(
                &format!("{key}.session_seconds"),
                t.session_seconds,
                7200,
                MIN_SESSION_SECONDS..=MAX_SESSION_SECONDS,
            ),
            login_timeout: Duration::from_millis(login_timeout_ms),
            max_concurrency: self.bounded(
                &format!("{key}.max_concurrency"),
                t.max_concurrency,
                25,
                1..=MAX_CONCURRENCY,
            ),
            max_queued: self.bounded(&format!("{key}.max_queued"), t.max_queued, 100, 0..=100_000),
            queue_timeout: Duration::from_millis(self.bounded(
                &format!("{key}.queue_timeout_ms"),
                t.queue_timeout_ms,
                5_000,
                1..=MAX_TIMEOUT_MS,
            )),
            callers,
            proxy,
            auth: auth?,
            workflows,
            front_door: t.front_door,
            policy,
        })
    }

    /// Memory, CPU time and output limits of `key` (`plugins` or one
    /// workflow), each bounded by what the engine can give.
    pub(super) fn plugin_limits(
        &mut self,
        key: &str,
        memory_mb: Option<u64>,
        timeout_ms: Option<u64>,
        (output_key, output_kb): (&str, Option<usize>),
        defaults: PluginLimits,
    ) -> PluginLimits {
        let max_memory_mb = crate::config::MAX_PLUGIN_MEMORY / (1024 * 1024);
        PluginLimits {
            memory_bytes: self.bounded(
                &format!("{key}.memory_mb"),
                memory_mb,
                defaults.memory_bytes / (1024 * 1024),
                1..=max_memory_mb,
            ) * 1024
                * 1024,
            timeout: Duration::from_millis(self.bounded(
                &format!("{key}.timeout_ms"),
                timeout_ms,
                defaults.timeout.as_millis() as u64,
                1..=MAX_TIMEOUT_MS,
            )),
            max_output_bytes: self.bounded(
                output_key,
                output_kb,
                defaults.max_output_bytes / 1024,
                1..=MAX_BODY_KB,
            ) * 1024,
        }
    }

    /// Each entry of a `callers.subjects` / `callers.sans` list, parsed.
    pub(super) fn names<T>(
        &mut self,
        key: &str,
        list: &[String],
        parse: fn(&str) -> Result<T, crate::config::names::NameError>,
    ) -> Vec<T> {
        let mut parsed = Vec::new();
        for (i, text) in list.iter().enumerate() {
            match parse(text) {
                Ok(name) => parsed.push(name),
                Err(e) => self.problem(&format!("{key}[{i}]"), format!("{text:?} {e}")),
            }
        }
        parsed
    }
}

fn is_api_version(v: &str) -> bool {
    v.split_once('.').is_some_and(|(major, minor)| {
        !major.is_empty() && major.chars().all(|c| c.is_ascii_digit()) && minor == "0"
    })
}
