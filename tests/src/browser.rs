//! A real browser for the tests: headless Chromium driven by chromedriver
//! over the W3C WebDriver protocol (plain HTTP on loopback), both Debian
//! packages that scripts/setup installs. Without them a test skips with a
//! note, or fails when `TWOWAY_REQUIRE_BROWSER=1` (scripts/test sets it).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::gateway::http;

/// The key W3C WebDriver names an element reference by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session in it; both end on drop.
pub struct Browser {
    driver: Child,
    base: String,
}

fn found(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width` x `height`;
    /// `None` (with a note) when they are not installed and not required.
    pub async fn start(width: u32, height: u32) -> Option<Self> {
        if !found("chromium") || !found("chromedriver") {
            let required = std::env::var("TWOWAY_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "TWOWAY_REQUIRE_BROWSER=1 but chromium or chromedriver is missing: run scripts/setup (apt-get install chromium chromium-driver)"
            );
            eprintln!("skipped: no chromium/chromedriver (scripts/setup installs them)");
            return None;
        }
        let port = crate::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut browser = Self {
            driver,
            base: format!("http://127.0.0.1:{port}"),
        };
        browser.wait_for_driver().await;
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--hide-scrollbars", format!("--window-size={width},{height}")],
            },
        }}});
        let session = browser.command("POST", "/session", capabilities).await;
        let id = session["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        browser.base = format!("{}/session/{id}", browser.base);
        Some(browser)
    }

    async fn wait_for_driver(&mut self) {
        let addr = self.base.trim_start_matches("http://").to_string();
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                let reply = http("GET", &format!("{}/status", self.base), &[], "").await;
                if reply.json()["value"]["ready"] == true {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver never became ready");
    }

    /// One WebDriver command; its `value` (panics on a WebDriver error).
    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let body = if method == "POST" {
            body.to_string()
        } else {
            String::new()
        };
        let reply = http(method, &url, &[("content-type", "application/json")], body).await;
        let value: Value = serde_json::from_str(&reply.body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}: {}", reply.body));
        assert_eq!(reply.status, 200, "WebDriver {method} {path}: {value}");
        value["value"].clone()
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url })).await;
    }

    /// The address bar's URL.
    pub async fn url(&self) -> String {
        let url = self.command("GET", "/url", Value::Null).await;
        url.as_str().unwrap_or_default().to_string()
    }

    /// Runs `script` in the page with `args`; what it returns.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
        .await
    }

    /// The WebDriver reference of the first element matching `css`.
    async fn find(&self, css: &str) -> String {
        let query = json!({ "using": "css selector", "value": css });
        let element = self.command("POST", "/element", query).await;
        (element[ELEMENT].as_str())
            .unwrap_or_else(|| panic!("no element {css}: {element}"))
            .to_string()
    }

    /// The rendered text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        let text = self
            .command("GET", &format!("/element/{id}/text"), Value::Null)
            .await;
        text.as_str().unwrap_or_default().to_string()
    }

    /// Types `keys` into the first element matching `css`.
    pub async fn type_into(&self, css: &str, keys: &str) {
        let id = self.find(css).await;
        let keys = json!({ "text": keys });
        self.command("POST", &format!("/element/{id}/value"), keys)
            .await;
    }

    /// Polls until `condition` (a JavaScript expression) is true in the page
    /// (the bound only keeps a broken page from hanging the test).
    pub async fn wait_until(&self, condition: &str) {
        let script = format!("return Boolean({condition});");
        for _ in 0..600 {
            if self.execute(&script, json!([])).await == true {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let body = self
            .execute("return document.body.innerText;", json!([]))
            .await;
        panic!("the page never satisfied {condition}; it shows:\n{body}");
    }

    /// The page as the browser holds it now (the DOM, serialized).
    pub async fn source(&self) -> String {
        let source = self.command("GET", "/source", Value::Null).await;
        source.as_str().unwrap_or_default().to_string()
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        let png = self.command("GET", "/screenshot", Value::Null).await;
        base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64"))
            .expect("a base64 PNG")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session closes Chromium; then chromedriver goes.
        let url = self.base.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                let _ = runtime.block_on(async {
                    tokio::time::timeout(Duration::from_secs(10), http("DELETE", &url, &[], ""))
                        .await
                });
            }
        })
        .join();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
