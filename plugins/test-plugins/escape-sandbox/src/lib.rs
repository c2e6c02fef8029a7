//! Test plugin `escape-sandbox`: tries to read `/etc/passwd`, list `/` (and
//! `.`), read `HOME` and the whole environment, and answers 200 with what
//! worked: `{"file": false, "dir": false, "env": 0}` in a deny-all sandbox
//! (`env` counts the variables it could see).

use twoway_plugin::prelude::*;

struct EscapeSandbox;

impl Guest for EscapeSandbox {
    fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        let file = std::fs::read("/etc/passwd").is_ok();
        let dir = std::fs::read_dir("/").is_ok() || std::fs::read_dir(".").is_ok();
        let env = std::env::vars_os()
            .count()
            .max(usize::from(std::env::var_os("HOME").is_some()));
        Ok(json_response(
            200,
            &json!({ "file": file, "dir": dir, "env": env }),
        ))
    }
}

twoway_plugin::export!(EscapeSandbox);
