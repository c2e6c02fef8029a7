//! The test PKI (`twoway_testkit::pki`): file layout, chains, key matching, PKCS#12,
//! the negative material as a real verifier sees it, and init/open behaviour.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, Error as TlsError, InconsistentKeys, RootCertStore};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use twoway_testkit::pki::{self, Pki, PkiError};
use twoway_tests::files::{certificates as certs, private_key as key};
use x509_parser::prelude::{FromDer, X509Certificate};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn fresh() -> (tempfile::TempDir, Pki) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = pki::init(&tmp.path().join("pki"), false).expect("pki init");
    (tmp, pki)
}

/// The PEM blocks of a file as (tag, DER).
fn blocks(path: &Path) -> Vec<(String, Vec<u8>)> {
    let text = std::fs::read(path).expect("read pem");
    twoway::pem::parse(&text)
        .expect("parse pem")
        .into_iter()
        .map(|b| (b.label.clone(), b.der().to_vec()))
        .collect()
}

fn tags(path: &Path) -> Vec<String> {
    blocks(path).into_iter().map(|(tag, _)| tag).collect()
}

fn cert(path: &Path) -> CertificateDer<'static> {
    let certs = certs(path);
    assert_eq!(certs.len(), 1, "{} holds one certificate", path.display());
    certs.into_iter().next().expect("one cert")
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    X509Certificate::from_der(der).expect("x509").1
}

fn cn(cert: &X509Certificate<'_>) -> String {
    let cn = cert.subject().iter_common_name().next().expect("CN");
    cn.as_str().expect("CN string").to_owned()
}

fn roots(pki: &Pki) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(cert(&pki.root_ca)).expect("root");
    Arc::new(roots)
}

/// Verifies a client certificate the way a mutual-TLS server trusting only
/// root-ca.pem would; `chain` holds the intermediates sent with it.
fn verify_client(
    pki: &Pki,
    leaf: &Path,
    chain: &[CertificateDer<'static>],
) -> Result<(), TlsError> {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(pki), provider())
        .build()
        .expect("client verifier");
    verifier
        .verify_client_cert(&cert(leaf), chain, UnixTime::now())
        .map(|_| ())
}

fn certificate_error(result: Result<(), TlsError>) -> CertificateError {
    match result {
        Err(TlsError::InvalidCertificate(e)) => e,
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

#[test]
fn init_writes_exactly_the_described_files_and_open_finds_them() {
    let (_tmp, pki) = fresh();
    let written: BTreeSet<_> = std::fs::read_dir(&pki.dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .collect();
    let described: BTreeSet<_> = pki.describe().into_iter().map(|(p, _)| p).collect();
    assert_eq!(written, described);
    assert!(pki.describe().iter().all(|(_, what)| !what.is_empty()));
    assert_eq!(pki::open(&pki.dir).expect("open"), pki);

    let readme = std::fs::read_to_string(&pki.readme).expect("readme");
    assert!(
        readme.contains("changeit"),
        "README states the p12 password"
    );
    assert!(readme.contains("curl --cacert root-ca.pem -E fullcert.pem https://127.0.0.1:"));
    for (path, _) in pki.describe() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(readme.contains(&name), "README mentions {name}");
    }

    #[cfg(unix)]
    for (path, _) in pki.describe() {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let secret = name.ends_with(".key") || name.contains("fullcert") || name.ends_with(".p12");
        if secret {
            assert_eq!(mode, 0o600, "{name} is private");
        }
    }
}

#[test]
fn fullcert_has_the_seed_layout_and_its_key_matches_the_leaf() {
    let (_tmp, pki) = fresh();
    let client = cert(&pki.client);
    let intermediate = cert(&pki.intermediate_ca);
    let root = cert(&pki.root_ca);

    let bundle = blocks(&pki.fullcert);
    let layout: Vec<_> = bundle.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(layout, ["RSA PRIVATE KEY", "CERTIFICATE", "CERTIFICATE"]);
    assert_eq!(bundle[1].1, client.as_ref(), "leaf second");
    assert_eq!(bundle[2].1, intermediate.as_ref(), "intermediate third");
    assert!(
        bundle.iter().all(|(_, der)| der != root.as_ref()),
        "no root"
    );
    let text = std::fs::read_to_string(&pki.fullcert).unwrap();
    assert!(text.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));

    // The PKCS#1 key in fullcert.pem is the same key as client.key (PKCS#8).
    let pkcs1 = key(&pki.fullcert);
    assert!(matches!(pkcs1, PrivateKeyDer::Pkcs1(_)));
    assert!(matches!(key(&pki.client_key), PrivateKeyDer::Pkcs8(_)));
    let provider = provider();
    for key in [pkcs1, key(&pki.client_key)] {
        let certified = CertifiedKey::from_der(certs(&pki.fullcert), key, &provider).expect("load");
        certified.keys_match().expect("key matches the leaf");
    }

    assert_eq!(
        certs(&pki.client_chain),
        std::slice::from_ref(&intermediate),
        "chain without root"
    );
    let server = certs(&pki.server);
    assert_eq!(server.len(), 2);
    assert_eq!(server[1], intermediate, "server sends its intermediate");

    // The second tenant (RSA) and the ECDSA identity follow the same layout.
    assert_eq!(
        tags(&pki.fullcert_b),
        ["RSA PRIVATE KEY", "CERTIFICATE", "CERTIFICATE"]
    );
    assert_eq!(
        tags(&pki.fullcert_ec),
        ["EC PRIVATE KEY", "CERTIFICATE", "CERTIFICATE"]
    );
    assert!(matches!(key(&pki.client_ec_key), PrivateKeyDer::Sec1(_)));
    for (bundle, leaf) in [
        (&pki.fullcert_b, &pki.client_b),
        (&pki.fullcert_ec, &pki.client_ec),
    ] {
        let chain = certs(bundle);
        assert_eq!(chain[0], cert(leaf));
        let certified = CertifiedKey::from_der(chain, key(bundle), &provider).expect("load");
        certified.keys_match().expect("key matches the leaf");
    }
    CertifiedKey::from_der(server, key(&pki.server_key), &provider)
        .and_then(|k| k.keys_match())
        .expect("server key matches");
}

#[test]
fn certificates_carry_the_promised_names_and_extensions() {
    let (_tmp, pki) = fresh();
    let (root, inter, client) = (
        cert(&pki.root_ca),
        cert(&pki.intermediate_ca),
        cert(&pki.client),
    );
    let (root, inter, client) = (parse(&root), parse(&inter), parse(&client));

    assert_eq!(cn(&root), pki::ROOT_CA_CN);
    assert!(root.is_ca());
    assert_eq!(cn(&inter), pki::INTERMEDIATE_CA_CN);
    assert_eq!(inter.issuer(), root.subject());
    let bc = inter
        .basic_constraints()
        .unwrap()
        .expect("basic constraints");
    assert!(bc.value.ca);
    assert_eq!(bc.value.path_len_constraint, Some(0));

    assert_eq!(cn(&client), pki::CLIENT_CN);
    let org = client.subject().iter_organization().next().expect("O");
    assert_eq!(org.as_str().unwrap(), pki::CLIENT_ORG);
    assert_eq!(client.issuer(), inter.subject());
    assert!(!client.is_ca());
    let eku = client.extended_key_usage().unwrap().expect("EKU").value;
    assert!(eku.client_auth && !eku.server_auth && !eku.code_signing && !eku.any);
    let ku = client.key_usage().unwrap().expect("key usage").value;
    assert!(ku.digital_signature() && ku.key_encipherment() && !ku.key_cert_sign());
    assert_eq!(client.public_key().parsed().unwrap().key_size(), 2048);
    let days = (client.validity().not_after.timestamp() - client.validity().not_before.timestamp())
        / 86_400;
    assert_eq!(days, 826, "now - 1 day .. now + 825 days");

    let b = cert(&pki.client_b);
    assert_eq!(cn(&parse(&b)), pki::CLIENT_B_CN);
    assert_ne!(
        parse(&b).raw_serial(),
        client.raw_serial(),
        "random serials"
    );

    let server = cert_at(&pki.server, 0);
    let server = parse(&server);
    let eku = server.extended_key_usage().unwrap().expect("EKU").value;
    assert!(eku.server_auth && !eku.client_auth);
    assert_eq!(cn(&parse(&cert(&pki.untrusted_ca))), pki::UNTRUSTED_CA_CN);
}

fn cert_at(path: &Path, index: usize) -> CertificateDer<'static> {
    certs(path).swap_remove(index)
}

#[test]
fn good_clients_chain_to_the_root_and_negative_material_is_refused() {
    let (_tmp, pki) = fresh();
    let inter = [cert(&pki.intermediate_ca)];
    for leaf in [&pki.client, &pki.client_b, &pki.client_ec] {
        verify_client(&pki, leaf, &inter).unwrap_or_else(|e| panic!("{}: {e}", leaf.display()));
    }
    // Without the intermediate the leaf does not chain: the bundle needs it.
    let e = certificate_error(verify_client(&pki, &pki.client, &[]));
    assert_eq!(e, CertificateError::UnknownIssuer);

    let e = certificate_error(verify_client(&pki, &pki.selfsigned_client, &inter));
    assert_eq!(e, CertificateError::UnknownIssuer, "self-signed");
    let e = certificate_error(verify_client(&pki, &pki.untrusted_client, &inter));
    assert_eq!(e, CertificateError::UnknownIssuer, "untrusted CA");
    let untrusted_chain = [cert(&pki.untrusted_ca)];
    let e = certificate_error(verify_client(&pki, &pki.untrusted_client, &untrusted_chain));
    assert_eq!(
        e,
        CertificateError::UnknownIssuer,
        "untrusted CA even when sent along"
    );
    let e = certificate_error(verify_client(&pki, &pki.expired_client, &inter));
    assert!(
        matches!(e, CertificateError::ExpiredContext { .. }),
        "expired: {e:?}"
    );
    let e = certificate_error(verify_client(&pki, &pki.codesign_client, &inter));
    assert!(
        matches!(
            e,
            CertificateError::InvalidPurposeContext { .. } | CertificateError::InvalidPurpose
        ),
        "code signing: {e:?}"
    );

    // The negative bundles hold what their names promise.
    assert_eq!(
        tags(&pki.selfsigned_client_fullcert),
        ["RSA PRIVATE KEY", "CERTIFICATE"]
    );
    assert_eq!(
        tags(&pki.untrusted_client_fullcert),
        ["RSA PRIVATE KEY", "CERTIFICATE"]
    );
    let chained = ["RSA PRIVATE KEY", "CERTIFICATE", "CERTIFICATE"];
    assert_eq!(tags(&pki.expired_client_fullcert), chained);
    assert_eq!(tags(&pki.codesign_client_fullcert), chained);
    let provider = provider();
    for (bundle, leaf) in [
        (&pki.selfsigned_client_fullcert, &pki.selfsigned_client),
        (&pki.untrusted_client_fullcert, &pki.untrusted_client),
        (&pki.expired_client_fullcert, &pki.expired_client),
        (&pki.codesign_client_fullcert, &pki.codesign_client),
    ] {
        let chain = certs(bundle);
        assert_eq!(chain[0], cert(leaf));
        CertifiedKey::from_der(chain, key(bundle), &provider)
            .and_then(|k| k.keys_match())
            .unwrap_or_else(|e| panic!("{}: {e}", bundle.display()));
    }
}

#[test]
fn mismatched_fullcert_key_does_not_match_its_certificate() {
    let (_tmp, pki) = fresh();
    assert_eq!(
        tags(&pki.mismatched_fullcert),
        ["RSA PRIVATE KEY", "CERTIFICATE", "CERTIFICATE"]
    );
    let chain = certs(&pki.mismatched_fullcert);
    assert_eq!(
        chain,
        certs(&pki.fullcert),
        "same certificates as fullcert.pem"
    );
    let result = CertifiedKey::from_der(chain, key(&pki.mismatched_fullcert), &provider());
    match result {
        Err(TlsError::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {}
        other => panic!("expected a key mismatch, got {other:?}"),
    }
}

#[test]
fn server_certificate_verifies_for_localhost_and_loopback_addresses() {
    let (_tmp, pki) = fresh();
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(&pki), provider())
        .build()
        .expect("server verifier");
    let chain = certs(&pki.server);
    let verify = |name: &str| {
        let name = ServerName::try_from(name.to_owned()).expect("server name");
        verifier.verify_server_cert(&chain[0], &chain[1..], &name, &[], UnixTime::now())
    };
    for name in ["localhost", "127.0.0.1", "::1"] {
        verify(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let e = certificate_error(verify("example.com").map(|_| ()));
    assert!(
        matches!(e, CertificateError::NotValidForNameContext { .. }),
        "{e:?}"
    );
}

#[test]
fn p12_reads_back_with_the_password_and_not_without() {
    let (_tmp, pki) = fresh();
    let data = std::fs::read(&pki.client_p12).expect("read p12");
    let policy = p12_keystore::Pkcs12ImportPolicy::Strict;
    let store = p12_keystore::KeyStore::from_pkcs12(&data, pki::P12_PASSWORD, policy).expect("p12");
    let (_, chain) = store.private_key_chain().expect("key chain");
    let ders: Vec<&[u8]> = chain.certs().iter().map(|c| c.as_der()).collect();
    let client = cert(&pki.client);
    let intermediate = cert(&pki.intermediate_ca);
    assert_eq!(ders, [client.as_ref(), intermediate.as_ref()]);
    let PrivateKeyDer::Pkcs8(pkcs8) = key(&pki.client_key) else {
        panic!("client.key is PKCS#8")
    };
    assert_eq!(chain.key().as_der(), pkcs8.secret_pkcs8_der());

    assert!(p12_keystore::KeyStore::from_pkcs12(&data, "wrong", policy).is_err());
}

#[test]
fn init_refuses_to_overwrite_without_force_and_replaces_with_it() {
    let (_tmp, pki) = fresh();
    let snapshot = |pki: &Pki| -> Vec<Vec<u8>> {
        pki.describe()
            .iter()
            .map(|(p, _)| std::fs::read(p).expect("read"))
            .collect()
    };
    let before = snapshot(&pki);

    let err = pki::init(&pki.dir, false).expect_err("second init must refuse");
    assert!(matches!(err, PkiError::AlreadyExists { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("--force"), "{message}");
    assert!(
        message.contains(&pki.dir.display().to_string()),
        "{message}"
    );
    assert_eq!(snapshot(&pki), before, "nothing rewritten");

    let again = pki::init(&pki.dir, true).expect("init --force");
    assert_eq!(again, pki);
    let after = snapshot(&pki);
    let changed = |p: &Path| {
        let i = pki.describe().iter().position(|(q, _)| q == p).unwrap();
        before[i] != after[i]
    };
    for path in [
        &pki.root_ca,
        &pki.client,
        &pki.client_key,
        &pki.fullcert,
        &pki.client_p12,
    ] {
        assert!(changed(path), "{} replaced", path.display());
    }
    verify_client(&pki, &pki.client, &[cert(&pki.intermediate_ca)]).expect("new chain verifies");
}

#[test]
fn init_refuses_a_directory_holding_any_one_pki_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("client.key"), "mine").unwrap();
    std::fs::write(tmp.path().join("unrelated.txt"), "keep").unwrap();
    let err = pki::init(tmp.path(), false).expect_err("must refuse");
    assert!(err.to_string().contains("client.key"), "{err}");
    let names: BTreeSet<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["client.key".to_owned(), "unrelated.txt".to_owned()])
    );
    assert_eq!(
        std::fs::read(tmp.path().join("client.key")).unwrap(),
        b"mine"
    );
}

#[test]
fn open_names_the_missing_file_and_the_init_command() {
    let tmp = tempfile::tempdir().unwrap();
    let missing_dir = tmp.path().join("nowhere");
    let err = pki::open(&missing_dir).expect_err("no pki");
    let message = err.to_string();
    assert!(matches!(err, PkiError::Missing { .. }), "{err:?}");
    assert!(message.contains("root-ca.pem"), "{message}");
    assert!(message.contains("twoway pki init"), "{message}");

    let (_tmp, pki) = fresh();
    std::fs::remove_file(&pki.fullcert_ec).unwrap();
    let message = pki::open(&pki.dir).expect_err("incomplete pki").to_string();
    assert!(message.contains("fullcert-ec.pem"), "{message}");
}
