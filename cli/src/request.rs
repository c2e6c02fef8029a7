//! What `twoway call` and `twoway plugin run` share: reading `--data`,
//! `--header` and `--method`, and printing an answer (the status line on
//! stderr, the body or `--json` on stdout).

use std::io::Write as _;

use super::exit::CliError;

/// The request options `call` and `plugin run` share.
#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    /// HTTP method [default: POST with --data, GET without].
    #[arg(long)]
    pub method: Option<String>,
    /// Request body: the text, @FILE, or @- for stdin.
    #[arg(long)]
    pub data: Option<String>,
    /// Request header, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// Print {"status", "headers", "body"} as JSON on stdout (the body
    /// parsed when it is JSON, else a string).
    #[arg(long)]
    pub json: bool,
}

impl RequestArgs {
    /// The body (`--data`), read once.
    pub fn body(&self) -> Result<Vec<u8>, CliError> {
        read_data(self.data.as_deref())
    }

    /// `--method`, else POST with `--data` and GET without.
    pub fn method(&self) -> Result<http::Method, CliError> {
        method(self.method.as_deref(), self.data.is_some())
    }

    /// Each `--header`, parsed.
    pub fn headers(&self) -> Result<Vec<(http::HeaderName, http::HeaderValue)>, CliError> {
        self.headers.iter().map(|h| parse_header(h)).collect()
    }
}

/// `--data`: the text itself, `@FILE`, or `@-` for stdin; empty when absent.
fn read_data(data: Option<&str>) -> Result<Vec<u8>, CliError> {
    match data {
        None => Ok(Vec::new()),
        Some("@-") => {
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut body)
                .map_err(|e| CliError::Usage(format!("--data @-: reading stdin: {e}")))?;
            Ok(body)
        }
        Some(data) => match data.strip_prefix('@') {
            Some(file) => {
                std::fs::read(file).map_err(|e| CliError::Usage(format!("--data @{file}: {e}")))
            }
            None => Ok(data.as_bytes().to_vec()),
        },
    }
}

/// One `--header 'Name: value'`.
fn parse_header(header: &str) -> Result<(http::HeaderName, http::HeaderValue), CliError> {
    let (name, value) = header.split_once(':').ok_or_else(|| {
        CliError::Usage(format!("--header {header:?}: write it as 'Name: value'"))
    })?;
    let name = http::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| CliError::Usage(format!("--header: {name:?} is not a header name")))?;
    let value = http::HeaderValue::from_str(value.trim())
        .map_err(|_| CliError::Usage(format!("--header: the value of {name} is not valid")))?;
    Ok((name, value))
}

/// `--method`, else POST with a body and GET without.
fn method(method: Option<&str>, has_body: bool) -> Result<http::Method, CliError> {
    match method {
        Some(m) => http::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| CliError::Usage(format!("--method {m:?} is not an HTTP method"))),
        None if has_body => Ok(http::Method::POST),
        None => Ok(http::Method::GET),
    }
}

/// Prints an answer: `status_line` on stderr; the body on stdout, or with
/// `json` one object {"status", "headers", "body"} (the body parsed when it
/// is JSON, else a string). Err(HttpStatus) for a status of 400 or more.
pub fn print_answer<'a>(
    status_line: &str,
    status: u16,
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
    body: &[u8],
    json: bool,
) -> anyhow::Result<()> {
    eprintln!("{status_line}");
    let mut stdout = std::io::stdout().lock();
    if json {
        let headers: serde_json::Map<String, serde_json::Value> = headers
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v).into_owned().into(),
                )
            })
            .collect();
        let body = serde_json::from_slice::<serde_json::Value>(body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
        });
        let out = serde_json::json!({ "status": status, "headers": headers, "body": body });
        writeln!(stdout, "{out}")?;
    } else {
        stdout.write_all(body)?;
        if !body.ends_with(b"\n") {
            stdout.write_all(b"\n")?;
        }
    }
    stdout.flush()?;
    if status >= 400 {
        return Err(CliError::HttpStatus(status).into());
    }
    Ok(())
}
