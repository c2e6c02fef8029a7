//! Test plugin `log-and-config`: logs one line at each level, then answers
//! 200 with `{"greeting": <config "greeting" or null>, "session": {...} or
//! {"error": "..."}, "ok": true}`. The session facts are the tenant, org id,
//! user id and API version; a session id never reaches a plugin. With config
//! `flood = "N"` it first writes N lines through `log` and N to stdout (the
//! host caps what one call may log).

use twoway_plugin::prelude::*;

struct LogAndConfig;

impl Guest for LogAndConfig {
    fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        let flood: u32 = config("flood").and_then(|n| n.parse().ok()).unwrap_or(0);
        for i in 0..flood {
            log(Level::Info, &format!("flood line {i}"));
            println!("flood stdout line {i}");
        }
        for (level, name) in [
            (Level::Trace, "trace"),
            (Level::Debug, "debug"),
            (Level::Info, "info"),
            (Level::Warn, "warn"),
            (Level::Error, "error"),
        ] {
            log(level, &format!("log-and-config says {name}"));
        }
        let session = match session() {
            Ok(s) => json!({
                "tenant": s.tenant,
                "org_id": s.org_id,
                "user_id": s.user_id,
                "api_version": s.api_version,
            }),
            Err(e) => json!({ "error": format!("{e:?}") }),
        };
        Ok(json_response(
            200,
            &json!({ "greeting": config("greeting"), "session": session, "ok": true }),
        ))
    }
}

twoway_plugin::export!(LogAndConfig);
