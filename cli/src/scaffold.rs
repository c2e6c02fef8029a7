//! `twoway plugin new`: a workflow project from a template, in Rust,
//! JavaScript or Python, with a test against a fake host, that `twoway
//! plugin build` and `twoway plugin up` take as written.

use std::path::{Path, PathBuf};

use super::exit::CliError;

/// A workflow's language, and so its toolchain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A cargo crate for wasm32-wasip2 with the twoway plugin SDK.
    Rust,
    /// `workflow.js`, built with componentize-js.
    Js,
    /// `app.py`, built with componentize-py.
    Python,
}

impl Lang {
    /// The language of the project in `dir`, by the file it is built from.
    pub fn detect(dir: &Path) -> Result<Self, CliError> {
        let langs = [
            ("Cargo.toml", Lang::Rust),
            ("workflow.js", Lang::Js),
            ("app.py", Lang::Python),
        ];
        (langs.into_iter())
            .find(|(file, _)| dir.join(file).is_file())
            .map(|(_, lang)| lang)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "{} holds no workflow project (Cargo.toml, workflow.js or app.py): \
                     start one with `twoway plugin new --lang rust|js|python NAME`",
                    dir.display()
                ))
            })
    }
}

const RUST: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../template/Cargo.toml.in")),
    ("src/lib.rs", include_str!("../template/lib.rs.in")),
    (".gitignore", include_str!("../template/gitignore.in")),
];
const JS: &[(&str, &str)] = &[
    ("workflow.js", include_str!("../template/js/workflow.js.in")),
    (
        "package.json",
        include_str!("../template/js/package.json.in"),
    ),
    (
        "test/workflow.test.js",
        include_str!("../template/js/test/workflow.test.js.in"),
    ),
    (
        "test/fake-host.js",
        include_str!("../template/js/test/fake-host.js"),
    ),
    (
        "test/hooks.js",
        include_str!("../template/js/test/hooks.js"),
    ),
    (
        "test/register.js",
        include_str!("../template/js/test/register.js"),
    ),
    (".gitignore", include_str!("../template/js/gitignore.in")),
];
const PYTHON: &[(&str, &str)] = &[
    ("app.py", include_str!("../template/python/app.py.in")),
    (
        "fake_host.py",
        include_str!("../template/python/fake_host.py"),
    ),
    (
        "test_app.py",
        include_str!("../template/python/test_app.py"),
    ),
    (
        ".gitignore",
        include_str!("../template/python/gitignore.in"),
    ),
];

/// Where this binary's SDK was, when it was built from a checkout.
const BUILT_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/sdk");

pub fn new(
    name: &str,
    lang: Lang,
    dir: Option<PathBuf>,
    sdk: Option<PathBuf>,
) -> anyhow::Result<()> {
    check_name(name)?;
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() && std::fs::read_dir(&dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(CliError::Usage(format!(
            "{} exists and is not empty: pick another --dir or remove it",
            dir.display()
        ))
        .into());
    }
    let crate_name = name.replace('-', "_");
    let mut fields = vec![
        ("{{name}}", name.to_string()),
        ("{{crate_name}}", crate_name.clone()),
        ("{{type_name}}", type_name(name)),
    ];
    let sdk = match lang {
        Lang::Rust => Some(rust_sdk(sdk)?),
        _ => None,
    };
    if let Some(sdk) = &sdk {
        let text = sdk.to_str().ok_or_else(|| {
            CliError::Usage(format!("--sdk {}: the path is not UTF-8", sdk.display()))
        })?;
        fields.push(("{{sdk}}", text.replace('\\', "\\\\").replace('"', "\\\"")));
    }
    let files = match lang {
        Lang::Rust => RUST,
        Lang::Js => JS,
        Lang::Python => PYTHON,
    };
    for (path, template) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let text = (fields.iter()).fold(template.to_string(), |text, (key, value)| {
            text.replace(key, value)
        });
        std::fs::write(path, text)?;
    }
    // The versions the SDK is tested with, so the first build resolves the
    // same dependencies (cargo drops what the new crate does not use).
    if let Some(lock) = sdk
        .as_ref()
        .and_then(|s| s.parent())
        .map(|p| p.join("Cargo.lock"))
        && lock.is_file()
    {
        std::fs::copy(&lock, dir.join("Cargo.lock"))?;
    }
    let (what, test) = match lang {
        Lang::Rust => (
            "crate",
            "cargo test                    # handle() on the SDK's fake host",
        ),
        Lang::Js => (
            "JavaScript project",
            "npm test                      # handle() in node, on the fake host in test/",
        ),
        Lang::Python => (
            "Python project",
            "python3 -m unittest           # handle() on the fake host in fake_host.py",
        ),
    };
    println!("Wrote workflow {what} {name} to {}.", dir.display());
    println!("  cd {}", dir.display());
    println!("  {test}");
    println!("  twoway plugin build           # the component");
    println!(
        "  twoway plugin up              # serve it against a local simulator; rebuilt on change"
    );
    Ok(())
}

/// The SDK a Rust workflow depends on (by path).
fn rust_sdk(sdk: Option<PathBuf>) -> Result<PathBuf, CliError> {
    let sdk = sdk.unwrap_or_else(|| PathBuf::from(BUILT_SDK));
    sdk.canonicalize()
        .ok()
        .filter(|p| p.join("Cargo.toml").is_file())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "no plugin SDK at {}: pass --sdk PATH (the plugins/sdk folder of a twoway checkout)",
                sdk.display()
            ))
        })
}

/// A crate name cargo accepts, a workflow name the gateway routes, and a
/// file name without surprises.
pub fn check_name(name: &str) -> Result<(), CliError> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "{name:?} is not a workflow name: use lower case letters, digits, `-` and `_`, \
             starting with a letter (at most 64), e.g. contact-dedupe"
        )))
    }
}

/// `contact-dedupe` -> `ContactDedupe`.
fn type_name(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("contact-dedupe").is_ok());
        assert!(check_name("a1_b").is_ok());
        for bad in ["", "Contact", "1x", "a b", "a/b", "ä", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(type_name("contact-dedupe"), "ContactDedupe");
        assert_eq!(type_name("a__b-c"), "ABC");
    }

    #[test]
    fn every_language_is_detected_by_its_template() {
        for (lang, files) in [(Lang::Rust, RUST), (Lang::Js, JS), (Lang::Python, PYTHON)] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(files[0].0), "").unwrap();
            assert_eq!(Lang::detect(dir.path()).unwrap(), lang);
        }
        let empty = tempfile::tempdir().unwrap();
        let e = Lang::detect(empty.path()).unwrap_err().to_string();
        assert!(e.contains("twoway plugin new"), "{e}");
    }
}
