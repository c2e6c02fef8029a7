//! Loader tests over a freshly generated test PKI (the end-to-end tests in
//! tests/tests/identity.rs cover every error and a real handshake).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::*;
use crate::pem;
use twoway_testkit::pki::{self, Pki};

fn test_pki() -> &'static Pki {
    static PKI: OnceLock<(tempfile::TempDir, Pki)> = OnceLock::new();
    &PKI.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = pki::init(dir.path(), false).expect("test PKI");
        (dir, pki)
    })
    .1
}

fn blocks(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("PEM file");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        current.push_str(line);
        current.push('\n');
        if line.starts_with("-----END ") {
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

fn write(dir: &Path, name: &str, parts: &[&str]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, parts.concat()).expect("write");
    path
}

#[test]
fn blocks_in_any_order_and_the_root_dropped() {
    let pki = test_pki();
    let dir = tempfile::tempdir().unwrap();
    let full = blocks(&pki.fullcert); // key, leaf, intermediate
    let root = blocks(&pki.root_ca);
    let shuffled = write(
        dir.path(),
        "shuffled.pem",
        &[&root[0], &full[2], &full[1], &full[0]],
    );
    let id = load(&IdentitySource::Pem { path: shuffled }).unwrap();
    assert_eq!(id.chain.len(), 2);
    assert_eq!(
        id.leaf.subject,
        format!("CN={}, O={}", pki::CLIENT_CN, pki::CLIENT_ORG)
    );
    assert_eq!(id.leaf.key_type, "RSA 2048");
    assert!(
        id.warnings
            .iter()
            .any(|w| w.contains("root CA") && w.contains(pki::ROOT_CA_CN)),
        "{:?}",
        id.warnings
    );
    let reference = load(&IdentitySource::Pem {
        path: pki.fullcert.clone(),
    })
    .unwrap();
    assert_eq!(reference.chain, id.chain);
    assert!(reference.warnings.is_empty(), "{:?}", reference.warnings);
    assert!(format!("{id:?}").contains("[redacted]"));
    assert!(id.certified_key().is_ok());
    assert_eq!(id.clone().chain, id.chain);
}

#[test]
fn chain_order_and_unrelated_certificates() {
    let pki = test_pki();
    let infos: Vec<CertInfo> = [
        &pki.untrusted_ca,
        &pki.root_ca,
        &pki.intermediate_ca,
        &pki.client,
    ]
    .iter()
    .map(|p| {
        let block = pem::parse(&std::fs::read(p).unwrap()).unwrap().remove(0);
        CertInfo::parse(block.certificate().unwrap()).unwrap()
    })
    .collect();
    assert!(infos[0].self_signed && infos[1].self_signed && infos[1].is_ca);
    assert!(!infos[3].self_issued && !infos[3].is_ca);
    assert!(infos[2].issued(&infos[3]) && infos[1].issued(&infos[2]));
    assert!(!infos[0].issued(&infos[2]));
    assert_eq!(chain::guess_leaf(&infos), Some(3));
    assert_eq!(
        chain::order(&infos, 3),
        chain::ChainOrder {
            chain: vec![3, 2],
            root: Some(1),
            unrelated: vec![0],
        }
    );
}

#[test]
fn pkcs12_and_files_match_the_pem() {
    let pki = test_pki();
    let pem = load(&IdentitySource::Pem {
        path: pki.fullcert.clone(),
    })
    .unwrap();
    let p12 = load(&IdentitySource::Pkcs12 {
        path: pki.client_p12.clone(),
        password: Some(Secret::new(pki::P12_PASSWORD)),
    })
    .unwrap();
    let files = load(&IdentitySource::Files {
        cert: pki.client.clone(),
        key: pki.client_key.clone(),
        chain: Some(pki.client_chain.clone()),
    })
    .unwrap();
    assert_eq!(pem.chain, p12.chain);
    assert_eq!(pem.chain, files.chain);
    assert_eq!(pem.leaf, files.leaf);
    let e = load(&IdentitySource::Pkcs12 {
        path: pki.client_p12.clone(),
        password: None,
    })
    .unwrap_err();
    assert!(
        matches!(e, IdentityError::Pkcs12PasswordRequired { .. }),
        "{e}"
    );
    assert_eq!(e.path(), pki.client_p12);
}

#[test]
fn bytes_load_like_files() {
    let pki = test_pki();
    let now = OffsetDateTime::now_utc();
    let origin = Path::new("named/in/errors.pem");
    let from_file = load(&IdentitySource::Pem {
        path: pki.fullcert.clone(),
    })
    .unwrap();
    let bytes = std::fs::read(&pki.fullcert).unwrap();
    let pem = from_pem_bytes(&bytes, origin, now).unwrap();
    assert_eq!(pem.chain, from_file.chain);
    assert_eq!(pem.origin, origin);
    let p12 = std::fs::read(&pki.client_p12).unwrap();
    let password = Secret::new(pki::P12_PASSWORD);
    let p12 = from_pkcs12_bytes(&p12, Some(&password), origin, now).unwrap();
    assert_eq!(p12.chain, from_file.chain);
    let e = from_pem_bytes(b"not pem", origin, now).unwrap_err();
    assert_eq!(e.path(), origin, "{e}");
}

#[test]
fn refusals() {
    let pki = test_pki();
    let pem = |path: &PathBuf| IdentitySource::Pem { path: path.clone() };
    let e = load(&pem(&pki.mismatched_fullcert)).unwrap_err();
    assert!(matches!(e, IdentityError::KeyMismatch { .. }), "{e}");
    assert!(e.to_string().contains(pki::CLIENT_CN), "{e}");
    let e = load(&pem(&pki.selfsigned_client_fullcert)).unwrap_err();
    assert!(matches!(e, IdentityError::SelfSignedLeaf { .. }), "{e}");
    let e = load(&pem(&pki.expired_client_fullcert)).unwrap_err();
    assert!(matches!(e, IdentityError::Expired { .. }), "{e}");
    let e = load(&pem(&pki.root_ca)).unwrap_err();
    assert!(matches!(e, IdentityError::NoPrivateKey { .. }), "{e}");
}
