//! Client identities (`twoway::identity`): the seed's fullcert.pem, separate
//! files and PKCS#12 all load to the same leaf; PKCS#1, PKCS#8 and SEC1 keys;
//! blocks in any order; the root and strangers dropped with warnings; every
//! error names its file and never shows key bytes or a password; and the
//! loaded identity completes a real mutual-TLS call against the simulator.

use std::path::Path;
use std::time::{Duration, SystemTime};

use rustls::pki_types::CertificateDer;
use twoway::identity::{self, ClientIdentity, IdentityError, IdentitySource};
use twoway::secret::Secret;
use twoway_tests::files::{
    certificates, openssl, path_str, pem_blocks, private_key_lines, write_parts,
};
use twoway_tests::{
    ACME_PASSWORD, ACME_USER, Client, get_user_info_envelope, pki, soap_login, start_sim,
};

const SECRET_PASSWORD: &str = "s3cret-Pa55-never-printed";
const WRONG_PASSWORD: &str = "wrong-password-1234";

fn pem(path: &Path) -> IdentitySource {
    IdentitySource::Pem {
        path: path.to_path_buf(),
    }
}

fn files(cert: &Path, key: &Path, chain: Option<&Path>) -> IdentitySource {
    IdentitySource::Files {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        chain: chain.map(Path::to_path_buf),
    }
}

fn p12(path: &Path, password: Option<&str>) -> IdentitySource {
    IdentitySource::Pkcs12 {
        path: path.to_path_buf(),
        password: password.map(Secret::new),
    }
}

fn load(source: &IdentitySource) -> ClientIdentity {
    identity::load(source).unwrap_or_else(|e| panic!("{source:?}: {e}"))
}

fn load_err(source: &IdentitySource) -> IdentityError {
    match identity::load(source) {
        Ok(id) => panic!("{source:?} loaded: {id:?}"),
        Err(e) => e,
    }
}

/// The PEM blocks of a file as text, in order.
fn blocks(path: &Path) -> Vec<String> {
    pem_blocks(path).into_iter().map(|b| b.text).collect()
}

/// The base64 lines of every private key in the test PKI that a test feeds in.
fn key_lines() -> Vec<String> {
    let pki = pki();
    private_key_lines(&[
        &pki.fullcert,
        &pki.fullcert_b,
        &pki.fullcert_ec,
        &pki.client_key,
        &pki.client_b_key,
        &pki.mismatched_fullcert,
        &pki.selfsigned_client_fullcert,
        &pki.expired_client_fullcert,
    ])
}

/// The error's message names `path`, offers a fix, and leaks nothing.
fn assert_clean(e: &IdentityError, path: &Path) {
    let text = e.to_string();
    let debug = format!("{e:?}");
    assert!(
        text.contains(path_str(path)),
        "message does not name {path:?}: {text}"
    );
    assert_eq!(e.path(), path, "{text}");
    assert!(text.contains("; "), "no hint: {text}");
    assert!(!text.contains('\n'), "one line: {text}");
    for secret in [
        SECRET_PASSWORD,
        WRONG_PASSWORD,
        twoway_testkit::pki::P12_PASSWORD,
    ] {
        assert!(!text.contains(secret) && !debug.contains(secret), "{text}");
    }
    for line in key_lines() {
        let needle = &line[..24.min(line.len())];
        assert!(
            !text.contains(needle) && !debug.contains(needle),
            "key bytes in: {text}"
        );
    }
}

fn cert_der(path: &Path) -> CertificateDer<'static> {
    certificates(path).remove(0)
}

#[test]
fn pem_files_and_pkcs12_give_the_same_leaf() {
    let pki = pki();
    let from_pem = load(&pem(&pki.fullcert));
    let from_files = load(&files(
        &pki.client,
        &pki.client_key,
        Some(&pki.client_chain),
    ));
    let from_p12 = load(&p12(
        &pki.client_p12,
        Some(twoway_testkit::pki::P12_PASSWORD),
    ));
    for id in [&from_pem, &from_files, &from_p12] {
        assert_eq!(id.leaf, from_pem.leaf);
        assert_eq!(id.chain, from_pem.chain);
        assert!(id.warnings.is_empty(), "{:?}", id.warnings);
        assert!(id.certified_key().is_ok());
    }
    assert_eq!(from_pem.chain.len(), 2);
    assert_eq!(from_pem.chain[0], cert_der(&pki.client));
    assert_eq!(from_pem.chain[1], cert_der(&pki.intermediate_ca));
    let leaf = &from_pem.leaf;
    assert_eq!(
        leaf.subject,
        format!(
            "CN={}, O={}",
            twoway_testkit::pki::CLIENT_CN,
            twoway_testkit::pki::CLIENT_ORG
        )
    );
    assert!(
        leaf.issuer
            .contains(twoway_testkit::pki::INTERMEDIATE_CA_CN),
        "{}",
        leaf.issuer
    );
    assert_eq!(leaf.key_type, "RSA 2048");
    assert_eq!(from_p12.origin, pki.client_p12);
    // Clone keeps the key; Debug never shows it.
    let copy = from_pem.clone();
    assert_eq!(copy.key.secret_der(), from_pem.key.secret_der());
    assert!(format!("{copy:?}").contains("[redacted]"));
}

#[test]
fn fingerprint_and_serial_match_openssl() {
    let pki = pki();
    let id = load(&pem(&pki.fullcert));
    let out = openssl(&[
        "x509",
        "-noout",
        "-fingerprint",
        "-sha256",
        "-in",
        path_str(&pki.client),
    ]);
    let expected = out.trim().split_once('=').expect("Fingerprint=").1;
    assert_eq!(id.leaf.sha256_fingerprint, expected);
    let out = openssl(&["x509", "-noout", "-serial", "-in", path_str(&pki.client)]);
    assert_eq!(id.leaf.serial, out.trim().trim_start_matches("serial="));
}

#[test]
fn pkcs1_pkcs8_and_sec1_keys_load() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    // fullcert.pem carries a PKCS#1 key, client.key is PKCS#8.
    let text = |p: &Path| std::fs::read_to_string(p).unwrap();
    assert!(text(&pki.fullcert).contains("BEGIN RSA PRIVATE KEY"));
    assert!(text(&pki.client_key).contains("BEGIN PRIVATE KEY"));
    let pkcs1 = load(&pem(&pki.fullcert));
    let pkcs8 = load(&files(
        &pki.client,
        &pki.client_key,
        Some(&pki.client_chain),
    ));
    assert_eq!(pkcs1.leaf, pkcs8.leaf);
    // A PKCS#1 key file made by the openssl CLI.
    let traditional = dir.path().join("client-pkcs1.key");
    openssl(&[
        "rsa",
        "-in",
        path_str(&pki.client_key),
        "-traditional",
        "-out",
        path_str(&traditional),
    ]);
    assert!(text(&traditional).contains("BEGIN RSA PRIVATE KEY"));
    let converted = load(&files(&pki.client, &traditional, Some(&pki.client_chain)));
    assert_eq!(converted.leaf, pkcs1.leaf);
    // SEC1: fullcert-ec.pem and the separate EC files.
    assert!(text(&pki.fullcert_ec).contains("BEGIN EC PRIVATE KEY"));
    let ec = load(&pem(&pki.fullcert_ec));
    assert_eq!(ec.leaf.key_type, "ECDSA P-256");
    assert_eq!(ec.chain[0], cert_der(&pki.client_ec));
    let ec_files = load(&files(
        &pki.client_ec,
        &pki.client_ec_key,
        Some(&pki.client_chain),
    ));
    assert_eq!(ec_files.leaf, ec.leaf);
}

#[test]
fn blocks_in_any_order() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let full = blocks(&pki.fullcert); // key, leaf, intermediate
    assert_eq!(full.len(), 3);
    let orders = [[2, 1, 0], [1, 0, 2], [0, 2, 1], [2, 0, 1]];
    for (n, order) in orders.iter().enumerate() {
        let parts: Vec<&str> = order.iter().map(|&i| full[i].as_str()).collect();
        let path = write_parts(dir.path(), &format!("shuffled-{n}.pem"), &parts);
        let id = load(&pem(&path));
        assert_eq!(id.chain[0], cert_der(&pki.client), "order {order:?}");
        assert_eq!(
            id.chain[1],
            cert_der(&pki.intermediate_ca),
            "order {order:?}"
        );
        assert!(id.warnings.is_empty(), "{:?}", id.warnings);
    }
    // Separate files: the certificate file may hold the chain too, in any order.
    let certs = write_parts(dir.path(), "certs.pem", &[&full[2], &full[1]]);
    let id = load(&files(&certs, &pki.client_key, None));
    assert_eq!(id.chain.len(), 2);
    assert_eq!(id.chain[0], cert_der(&pki.client));
}

#[test]
fn the_root_and_strangers_are_dropped_with_warnings() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let full = blocks(&pki.fullcert);
    let root = blocks(&pki.root_ca);
    let with_root = write_parts(dir.path(), "with-root.pem", &[&full.concat(), &root[0]]);
    let id = load(&pem(&with_root));
    assert_eq!(id.chain.len(), 2, "the root is not sent");
    assert!(!id.chain.contains(&cert_der(&pki.root_ca)));
    assert!(
        id.warnings.iter().any(|w| w.contains("root CA")
            && w.contains(twoway_testkit::pki::ROOT_CA_CN)
            && w.contains("dropped")),
        "{:?}",
        id.warnings
    );
    // Root first, in a separate chain file.
    let chain = write_parts(dir.path(), "chain-with-root.pem", &[&root[0], &full[2]]);
    let id = load(&files(&pki.client, &pki.client_key, Some(&chain)));
    assert_eq!(id.chain.len(), 2);
    assert_eq!(id.warnings.len(), 1, "{:?}", id.warnings);

    // Certificates that have nothing to do with the leaf.
    let untrusted = blocks(&pki.untrusted_ca);
    let other_leaf = blocks(&pki.client_b);
    let strangers = write_parts(
        dir.path(),
        "strangers.pem",
        &[&untrusted[0], &full.concat(), &other_leaf[0]],
    );
    let id = load(&pem(&strangers));
    assert_eq!(id.chain.len(), 2);
    let warning = id
        .warnings
        .iter()
        .find(|w| w.contains("not in the chain"))
        .unwrap_or_else(|| panic!("{:?}", id.warnings));
    assert!(
        warning.contains(twoway_testkit::pki::UNTRUSTED_CA_CN),
        "{warning}"
    );
    assert!(
        warning.contains(twoway_testkit::pki::CLIENT_B_CN),
        "{warning}"
    );

    // Other blocks are ignored with a warning; a lone leaf is flagged.
    let csr = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n";
    let odd = write_parts(dir.path(), "odd.pem", &[&full[0], csr, &full[1]]);
    let id = load(&pem(&odd));
    assert!(
        id.warnings
            .iter()
            .any(|w| w.contains("ignored block CERTIFICATE REQUEST at line")),
        "{:?}",
        id.warnings
    );
    assert!(
        id.warnings.iter().any(|w| w.contains("only the leaf")),
        "{:?}",
        id.warnings
    );
}

#[test]
fn each_error_names_the_file_and_leaks_nothing() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let full = blocks(&pki.fullcert);
    let key_b = blocks(&pki.fullcert_b)[0].clone();

    // Unreadable.
    let missing = dir.path().join("missing.pem");
    let e = load_err(&pem(&missing));
    assert!(matches!(e, IdentityError::Unreadable { .. }), "{e}");
    assert_clean(&e, &missing);

    // Too large.
    let big = dir.path().join("big.pem");
    std::fs::write(&big, vec![b'A'; 2 * 1024 * 1024]).unwrap();
    let e = load_err(&pem(&big));
    assert!(matches!(e, IdentityError::TooLarge { .. }), "{e}");
    assert_clean(&e, &big);

    // Malformed PEM: a truncated block, bad base64, no blocks at all.
    let truncated = write_parts(dir.path(), "truncated.pem", &[&full[0], &full[1][..200]]);
    let bad_base64 = write_parts(
        dir.path(),
        "bad-base64.pem",
        &["-----BEGIN CERTIFICATE-----\nMIIB$%^&\n-----END CERTIFICATE-----\n"],
    );
    let no_blocks = write_parts(dir.path(), "prose.pem", &["just some text\n"]);
    for path in [&truncated, &bad_base64, &no_blocks] {
        let e = load_err(&pem(path));
        assert!(matches!(e, IdentityError::MalformedPem { .. }), "{e}");
        assert_clean(&e, path);
    }
    let e = load_err(&pem(&truncated));
    assert!(e.to_string().contains("no END line"), "{e}");

    // No private key; several; no certificate.
    let e = load_err(&pem(&pki.client));
    assert!(matches!(e, IdentityError::NoPrivateKey { .. }), "{e}");
    assert_clean(&e, &pki.client);
    let two_keys = write_parts(dir.path(), "two-keys.pem", &[&full.concat(), &key_b]);
    let e = load_err(&pem(&two_keys));
    assert!(
        matches!(e, IdentityError::MultipleKeys { count: 2, .. }),
        "{e}"
    );
    assert_clean(&e, &two_keys);
    let key_only = write_parts(dir.path(), "key-only.pem", &[&full[0]]);
    let e = load_err(&pem(&key_only));
    assert!(matches!(e, IdentityError::NoCertificate { .. }), "{e}");
    assert_clean(&e, &key_only);
    let e = load_err(&files(&pki.client_key, &pki.client_key, None));
    assert!(matches!(e, IdentityError::NoCertificate { .. }), "{e}");
    assert_clean(&e, &pki.client_key);

    // A key that does not match: the message says which certificate.
    let e = load_err(&pem(&pki.mismatched_fullcert));
    assert!(matches!(e, IdentityError::KeyMismatch { .. }), "{e}");
    assert!(
        e.to_string().contains(twoway_testkit::pki::CLIENT_CN),
        "{e}"
    );
    assert_clean(&e, &pki.mismatched_fullcert);
    let e = load_err(&files(&pki.client, &pki.client_b_key, None));
    assert!(matches!(e, IdentityError::KeyMismatch { .. }), "{e}");
    assert!(
        e.to_string().contains(twoway_testkit::pki::CLIENT_CN),
        "{e}"
    );
    assert_clean(&e, &pki.client_b_key);

    // Encrypted keys: PKCS#8 and the legacy Proc-Type header, made by openssl.
    let pass = format!("pass:{SECRET_PASSWORD}");
    let enc8 = dir.path().join("encrypted-pkcs8.key");
    openssl(&[
        "pkcs8",
        "-topk8",
        "-v2",
        "aes256",
        "-in",
        path_str(&pki.client_key),
        "-out",
        path_str(&enc8),
        "-passout",
        &pass,
    ]);
    let legacy = dir.path().join("encrypted-legacy.key");
    openssl(&[
        "rsa",
        "-in",
        path_str(&pki.client_key),
        "-traditional",
        "-aes256",
        "-out",
        path_str(&legacy),
        "-passout",
        &pass,
    ]);
    assert!(
        std::fs::read_to_string(&legacy)
            .unwrap()
            .contains("Proc-Type: 4,ENCRYPTED")
    );
    for key in [&enc8, &legacy] {
        let e = load_err(&files(&pki.client, key, Some(&pki.client_chain)));
        assert!(matches!(e, IdentityError::EncryptedKey { .. }), "{e}");
        assert!(e.to_string().contains("openssl pkey -in"), "{e}");
        assert!(e.to_string().contains("does not support encrypted"), "{e}");
        assert_clean(&e, key);
    }
    let bundle = write_parts(
        dir.path(),
        "encrypted-bundle.pem",
        &[&std::fs::read_to_string(&enc8).unwrap(), &full[1], &full[2]],
    );
    let e = load_err(&pem(&bundle));
    assert!(matches!(e, IdentityError::EncryptedKey { .. }), "{e}");
    assert_clean(&e, &bundle);

    // PKCS#12: no password, a wrong one, not PKCS#12 at all.
    let e = load_err(&p12(&pki.client_p12, None));
    assert!(
        matches!(e, IdentityError::Pkcs12PasswordRequired { .. }),
        "{e}"
    );
    assert_clean(&e, &pki.client_p12);
    let e = load_err(&p12(&pki.client_p12, Some(WRONG_PASSWORD)));
    assert!(
        matches!(e, IdentityError::Pkcs12WrongPassword { .. }),
        "{e}"
    );
    assert_clean(&e, &pki.client_p12);
    let e = load_err(&p12(&pki.fullcert, Some(WRONG_PASSWORD)));
    assert!(matches!(e, IdentityError::MalformedPkcs12 { .. }), "{e}");
    assert_clean(&e, &pki.fullcert);

    // A certificate block that is not X.509; a key block that is not a key.
    let junk = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
    let bad_cert = write_parts(dir.path(), "bad-cert.pem", &[&full[0], junk]);
    let e = load_err(&pem(&bad_cert));
    assert!(
        matches!(e, IdentityError::InvalidCertificate { index: 1, .. }),
        "{e}"
    );
    assert_clean(&e, &bad_cert);
    let junk_key = "-----BEGIN RSA PRIVATE KEY-----\nMAMCAQE=\n-----END RSA PRIVATE KEY-----\n";
    let bad_key = write_parts(dir.path(), "bad-key.pem", &[junk_key, &full[1]]);
    let e = load_err(&pem(&bad_key));
    assert!(matches!(e, IdentityError::InvalidKey { .. }), "{e}");
    assert_clean(&e, &bad_key);

    // Unsupported key types: Ed448 and RSA 1024, made by openssl.
    let ed448 = dir.path().join("ed448.key");
    openssl(&["genpkey", "-algorithm", "ED448", "-out", path_str(&ed448)]);
    let e = load_err(&files(&pki.client, &ed448, None));
    assert!(matches!(e, IdentityError::UnsupportedKey { .. }), "{e}");
    assert!(e.to_string().contains("Ed448"), "{e}");
    assert_clean(&e, &ed448);
    let small = dir.path().join("rsa1024.key");
    openssl(&["genrsa", "-out", path_str(&small), "1024"]);
    let e = load_err(&files(&pki.client, &small, None));
    assert!(matches!(e, IdentityError::UnsupportedKey { .. }), "{e}");
    assert!(e.to_string().contains("2048"), "{e}");
    assert_clean(&e, &small);

    // Expired, self-signed.
    let e = load_err(&pem(&pki.expired_client_fullcert));
    assert!(matches!(e, IdentityError::Expired { .. }), "{e}");
    assert!(e.to_string().contains("expired on 20"), "{e}");
    assert_clean(&e, &pki.expired_client_fullcert);
    let e = load_err(&pem(&pki.selfsigned_client_fullcert));
    assert!(matches!(e, IdentityError::SelfSignedLeaf { .. }), "{e}");
    assert!(
        e.to_string().contains(
            "Salesforce refuses self-signed client certificates; get one issued by a CA on Salesforce's list"
        ),
        "{e}"
    );
    assert_clean(&e, &pki.selfsigned_client_fullcert);
}

#[test]
fn validity_window_and_days_to_expiry() {
    let pki = pki();
    let id = load(&pem(&pki.fullcert));
    let days = id.days_to_expiry(SystemTime::now().into());
    assert!((820..=825).contains(&days), "{days}");
    let day = Duration::from_secs(86_400);
    assert_eq!(id.days_to_expiry(id.leaf.not_after + 10 * day), -10);
    assert_eq!(id.days_to_expiry(id.leaf.not_after - day), 1);

    // Not yet valid: judged a day before notBefore.
    let e = identity::load_at(&pem(&pki.fullcert), id.leaf.not_before - day).unwrap_err();
    assert!(matches!(e, IdentityError::NotYetValid { .. }), "{e}");
    assert!(e.to_string().contains("not valid before 20"), "{e}");
    assert_clean(&e, &pki.fullcert);
    // Expired: judged a minute after notAfter.
    let after = id.leaf.not_after + Duration::from_secs(60);
    let e = identity::load_at(&pem(&pki.fullcert), after).unwrap_err();
    assert!(matches!(e, IdentityError::Expired { .. }), "{e}");
    // Inside the window: fine.
    assert!(identity::load_at(&pem(&pki.fullcert), id.leaf.not_before).is_ok());
}

/// POSTs the seed's getUserInfo to the mutual-auth port over a fresh
/// connection of `client`.
async fn get_user_info(client: Client, url: &str, session: &str) -> (u16, String) {
    let response = client.soap(url, &get_user_info_envelope(session)).await;
    (response.status, response.body)
}

#[tokio::test(flavor = "multi_thread")]
async fn loaded_identities_complete_a_mutual_tls_call() {
    let pki = pki();
    let sim = start_sim().await;
    let endpoints = sim.endpoints();
    let session = soap_login(&endpoints.login_url(), ACME_USER, ACME_PASSWORD).await;
    let url = format!("{}/services/Soap/u/62.0", endpoints.mutual_url());
    let sources = [
        pem(&pki.fullcert),
        files(&pki.client, &pki.client_key, Some(&pki.client_chain)),
        p12(&pki.client_p12, Some(twoway_testkit::pki::P12_PASSWORD)),
    ];
    for source in &sources {
        let id = load(source);
        // As the transport does: a resolver over the identity's CertifiedKey.
        let client = Client::with_certified_key(id.certified_key().expect("certified key"));
        let (status, body) = get_user_info(client, &url, &session).await;
        assert_eq!(status, 200, "{source:?}: {body}");
        assert!(body.contains("<getUserInfoResponse>"), "{source:?}: {body}");
        // And with the chain and key handed over directly.
        let client = Client::with_chain_and_key(id.chain.clone(), id.key.clone_key());
        let (status, body) = get_user_info(client, &url, &session).await;
        assert_eq!(status, 200, "{source:?}: {body}");
        assert!(body.contains("<getUserInfoResponse>"), "{source:?}: {body}");
    }
}
