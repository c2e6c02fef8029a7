//! The certificate doctor (`twoway_doctor`, `twoway cert check`):
//! every negative identity of the test PKI gets its error or warning, with
//! all problems reported at once; good identities in every format pass;
//! openssl-made material (a whole chain, RSA 1024, a certificate about to
//! expire, an encrypted key, PKCS#12) is judged too, so we do not only check
//! certificates we made ourselves; `--connect` against the simulator's
//! mutual-auth port tells accepted from rejected; nothing printed holds key
//! bytes or a password. Exit codes and bundle files: cli/tests/cert_cli.rs.

use std::path::{Path, PathBuf};

use twoway::secret::Secret;
use twoway_doctor::{self as doctor, CheckId, EXIT_ERRORS, EXIT_WARNINGS, Options, Report, Status};
use twoway_tests::files::{openssl, path_str as s, private_key_lines};
use twoway_tests::{pki, start_sim};

/// Checks of `identity` trusting the test root (as the simulator does).
fn options(identity: &Path) -> Options {
    let mut o = Options::new(identity);
    o.cacert = vec![pki().root_ca.clone()];
    o
}

fn inspect(o: &Options) -> Report {
    doctor::inspect(o).report
}

#[track_caller]
fn expect(report: &Report, id: CheckId, status: Status, needle: &str) {
    let check = report
        .check(id)
        .unwrap_or_else(|| panic!("no {} check:\n{}", id.as_str(), report.to_text()));
    assert_eq!(
        check.status,
        status,
        "{}:\n{}",
        id.as_str(),
        report.to_text()
    );
    assert!(
        check.message.contains(needle),
        "{} message {:?} lacks {needle:?}",
        id.as_str(),
        check.message
    );
    if status != Status::Ok {
        assert!(
            check.fix.as_deref().is_some_and(|f| !f.is_empty()),
            "{} has no fix",
            id.as_str()
        );
    }
}

#[track_caller]
fn all_ok(report: &Report) {
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    for id in CheckId::ALL.into_iter().filter(|id| !id.needs_connect()) {
        assert_eq!(report.status(id), Some(Status::Ok), "{}", report.to_text());
    }
}

fn concat(dir: &Path, name: &str, parts: &[&Path]) -> PathBuf {
    let text: String = parts
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("PEM file"))
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

/// The base64 lines of every private key block in `paths`.
fn key_lines(paths: &[&Path]) -> Vec<String> {
    let lines = private_key_lines(paths);
    assert!(!lines.is_empty());
    lines
}

#[test]
fn good_identities_pass_in_every_format() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    for fullcert in [&pki.fullcert, &pki.fullcert_b, &pki.fullcert_ec] {
        all_ok(&inspect(&options(fullcert)));
    }
    let report = inspect(&options(&pki.fullcert_ec));
    expect(&report, CheckId::KeyStrength, Status::Ok, "ECDSA P-256");

    // Separate files, the key in PKCS#8.
    let mut o = options(&pki.client);
    o.key = Some(pki.client_key.clone());
    o.chain = vec![pki.client_chain.clone()];
    let separate = inspect(&o);
    all_ok(&separate);
    assert_eq!(separate.identity.format, "pem");

    // The certificate in DER.
    let der = dir.path().join("client.der");
    openssl(&[
        "x509",
        "-in",
        s(&pki.client),
        "-outform",
        "DER",
        "-out",
        s(&der),
    ]);
    o.identity = der;
    let report = inspect(&o);
    all_ok(&report);
    assert_eq!(report.identity.format, "der");

    // PKCS#12 with its password.
    let mut o = options(&pki.client_p12);
    o.password = Some(Secret::new(twoway_testkit::pki::P12_PASSWORD));
    let report = inspect(&o);
    all_ok(&report);
    assert_eq!(report.identity.format, "pkcs12");
    let leaf = report.identity.leaf.as_ref().expect("leaf");
    assert_eq!(leaf.key_type, "RSA 2048");
    assert_eq!(leaf.extended_key_usage, ["clientAuth"]);
    assert_eq!(
        Some(&leaf.sha256_fingerprint),
        separate
            .identity
            .leaf
            .as_ref()
            .map(|l| &l.sha256_fingerprint)
    );
}

#[test]
fn fingerprint_matches_openssl() {
    let pki = pki();
    let report = inspect(&options(&pki.fullcert));
    let text = openssl(&[
        "x509",
        "-noout",
        "-fingerprint",
        "-sha256",
        "-in",
        s(&pki.client),
    ]);
    let expected = text.trim().split_once('=').expect("Fingerprint=").1;
    expect(&report, CheckId::Fingerprint, Status::Ok, expected);
    assert_eq!(
        report.identity.leaf.as_ref().unwrap().sha256_fingerprint,
        expected
    );
}

#[test]
fn every_negative_identity_of_the_test_pki_is_reported() {
    let pki = pki();
    let cases: [(&PathBuf, CheckId, Status, &str); 5] = [
        (
            &pki.selfsigned_client_fullcert,
            CheckId::LeafNotSelfSigned,
            Status::Error,
            "self-signed",
        ),
        (
            &pki.expired_client_fullcert,
            CheckId::Validity,
            Status::Error,
            "expired on",
        ),
        (
            &pki.untrusted_client_fullcert,
            CheckId::ChainComplete,
            Status::Error,
            "Untrusted Test Root CA",
        ),
        (
            &pki.mismatched_fullcert,
            CheckId::KeyMatchesLeaf,
            Status::Error,
            "does not belong",
        ),
        (
            &pki.codesign_client_fullcert,
            CheckId::ExtendedKeyUsage,
            Status::Error,
            "code-signing",
        ),
    ];
    for (file, id, status, needle) in cases {
        let report = inspect(&options(file));
        expect(&report, id, status, needle);
        assert_eq!(report.exit_code(), EXIT_ERRORS, "{}", report.to_text());
        // Exactly that problem: every other check still ran and passed.
        let others: Vec<_> = report
            .checks
            .iter()
            .filter(|c| c.id != id && c.status != Status::Ok)
            .map(|c| c.id.as_str())
            .collect();
        assert!(
            others.is_empty(),
            "{}: also {others:?}\n{}",
            file.display(),
            report.to_text()
        );
        assert_eq!(report.checks.len(), 12, "{}", report.to_text());
    }

    // The untrusted client with its CA: the chain ends at that root, which is included.
    let mut o = options(&pki.untrusted_client);
    o.key = Some(pki.untrusted_client_key.clone());
    o.chain = vec![pki.untrusted_ca.clone()];
    let report = inspect(&o);
    expect(
        &report,
        CheckId::RootIncluded,
        Status::Warning,
        "Untrusted Test Root CA",
    );
    expect(
        &report,
        CheckId::ChainComplete,
        Status::Ok,
        "found in the input",
    );

    // A leaf without its key or intermediate.
    let report = inspect(&options(&pki.client));
    expect(
        &report,
        CheckId::KeyMatchesLeaf,
        Status::Warning,
        "no private key",
    );
    expect(
        &report,
        CheckId::ChainComplete,
        Status::Error,
        "intermediate CA certificate(s) are missing",
    );

    // The second tenant's key with the first tenant's certificate.
    let mut o = options(&pki.client);
    o.key = Some(pki.client_b_key.clone());
    o.chain = vec![pki.client_chain.clone()];
    expect(
        &inspect(&o),
        CheckId::KeyMatchesLeaf,
        Status::Error,
        "integration.acme.example",
    );

    // PKCS#12 without and with a wrong password.
    let report = inspect(&options(&pki.client_p12));
    expect(
        &report,
        CheckId::Blocks,
        Status::Error,
        "no password was given",
    );
    let mut o = options(&pki.client_p12);
    o.password = Some(Secret::new("not-the-password-42"));
    o.password_env = Some("P12_PASSWORD".into());
    let report = inspect(&o);
    expect(&report, CheckId::Blocks, Status::Error, "wrong password");
    assert!(!report.to_json().contains("not-the-password-42"));
    let mut o = options(&pki.client_p12);
    o.password_env = Some("TWOWAY_TEST_UNSET_VARIABLE".into());
    expect(&inspect(&o), CheckId::Blocks, Status::Error, "not set");
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    // Wrong key, expired leaf, root included, blocks shuffled.
    let file = concat(
        dir.path(),
        "everything-wrong.pem",
        &[
            &pki.root_ca,
            &pki.expired_client,
            &pki.client_b_key,
            &pki.intermediate_ca,
        ],
    );
    let report = inspect(&options(&file));
    expect(
        &report,
        CheckId::KeyMatchesLeaf,
        Status::Error,
        "does not belong",
    );
    expect(&report, CheckId::Validity, Status::Error, "expired");
    expect(
        &report,
        CheckId::RootIncluded,
        Status::Warning,
        "twoway Test Root CA",
    );
    expect(
        &report,
        CheckId::ChainOrder,
        Status::Warning,
        "out of order",
    );
    assert_eq!(report.summary.error, 2, "{}", report.to_text());
    assert_eq!(report.exit_code(), EXIT_ERRORS);
}

#[test]
fn root_included_is_a_warning() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let file = concat(dir.path(), "with-root.pem", &[&pki.fullcert, &pki.root_ca]);
    let report = inspect(&options(&file));
    expect(
        &report,
        CheckId::RootIncluded,
        Status::Warning,
        "must not be sent the root",
    );
    expect(
        &report,
        CheckId::ChainOrder,
        Status::Ok,
        "twoway Test Root CA",
    );
    assert_eq!(
        (report.exit_code(), report.summary.warning),
        (EXIT_WARNINGS, 1),
        "{}",
        report.to_text()
    );
    let roles: Vec<&str> = report
        .identity
        .certificates
        .iter()
        .map(|c| c.role.as_str())
        .collect();
    assert_eq!(roles, ["leaf", "intermediate", "root"]);
}

#[test]
fn chain_out_of_order_and_strangers_are_reported() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let file = concat(
        dir.path(),
        "reversed.pem",
        &[&pki.client_chain, &pki.client, &pki.client_key],
    );
    let report = inspect(&options(&file));
    expect(
        &report,
        CheckId::ChainOrder,
        Status::Warning,
        "out of order",
    );
    expect(
        &report,
        CheckId::KeyMatchesLeaf,
        Status::Ok,
        "integration.acme.example",
    );
    assert_eq!(report.exit_code(), EXIT_WARNINGS, "{}", report.to_text());

    let file = concat(dir.path(), "stranger.pem", &[&pki.fullcert, &pki.client_b]);
    let report = inspect(&options(&file));
    expect(
        &report,
        CheckId::ChainOrder,
        Status::Warning,
        "not in the leaf's chain",
    );
    assert!(
        report
            .check(CheckId::ChainOrder)
            .unwrap()
            .message
            .contains("globex")
    );

    // Without the test root trusted, a chain that ends at a private root is a warning.
    let report = inspect(&Options::new(&pki.fullcert));
    expect(
        &report,
        CheckId::ChainComplete,
        Status::Warning,
        "not among the trusted roots",
    );
    assert_eq!(report.exit_code(), EXIT_WARNINGS);
}

/// `openssl x509 -req`: signs `csr` with the CA `ca` (key `ca_key`) for
/// `days`, with the extensions in `ext`, into `out`.
fn sign_csr(csr: &Path, ca: &Path, ca_key: &Path, days: &str, ext: &Path, out: &Path) {
    openssl(&[
        "x509",
        "-req",
        "-in",
        s(csr),
        "-CA",
        s(ca),
        "-CAkey",
        s(ca_key),
        "-CAcreateserial",
        "-days",
        days,
        "-extfile",
        s(ext),
        "-out",
        s(out),
    ]);
}

/// Issues a client certificate from the test issuing CA with openssl.
fn issue_from_test_ca(dir: &Path, name: &str, key_args: &[&str], days: &str) -> (PathBuf, PathBuf) {
    let pki = pki();
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let cert = dir.join(format!("{name}.pem"));
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    let mut args = vec!["genpkey"];
    args.extend_from_slice(key_args);
    args.extend_from_slice(&["-out", s(&key)]);
    openssl(&args);
    let subject = format!("/CN={name}.acme.example/O=Acme Test");
    openssl(&[
        "req",
        "-new",
        "-key",
        s(&key),
        "-subj",
        &subject,
        "-out",
        s(&csr),
    ]);
    sign_csr(
        &csr,
        &pki.intermediate_ca,
        &pki.intermediate_ca_key,
        days,
        &ext,
        &cert,
    );
    (cert, key)
}

#[test]
fn a_certificate_about_to_expire_is_a_warning() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = issue_from_test_ca(
        dir.path(),
        "expiring",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        "10",
    );
    let mut o = options(&cert);
    o.key = Some(key);
    o.chain = vec![pki.client_chain.clone()];
    let report = inspect(&o);
    expect(
        &report,
        CheckId::Validity,
        Status::Warning,
        "expires in 9 days",
    );
    assert_eq!(report.exit_code(), EXIT_WARNINGS, "{}", report.to_text());
    assert_eq!(report.identity.leaf.as_ref().unwrap().days_to_expiry, 9);
}

#[test]
fn rsa_1024_is_an_error_and_still_matched_to_its_key() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = issue_from_test_ca(
        dir.path(),
        "weak",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
        "365",
    );
    let file = concat(
        dir.path(),
        "weak-fullcert.pem",
        &[&key, &cert, &pki.client_chain],
    );
    let report = inspect(&options(&file));
    expect(&report, CheckId::KeyStrength, Status::Error, "RSA 1024");
    expect(
        &report,
        CheckId::KeyMatchesLeaf,
        Status::Ok,
        "weak.acme.example",
    );
    assert_eq!(report.summary.error, 1, "{}", report.to_text());
}

#[test]
fn a_chain_made_by_the_openssl_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = |name: &str| d.join(name);
    std::fs::write(
        p("ca.ext"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    std::fs::write(
        p("client.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=email:ops@openssl.example\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    // Root (self-signed), intermediate, client: all by openssl.
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:3072",
        "-nodes",
        "-keyout",
        s(&p("root.key")),
        "-out",
        s(&p("root.pem")),
        "-days",
        "3650",
        "-subj",
        "/CN=OpenSSL Root/O=Elsewhere",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-nodes",
        "-keyout",
        s(&p("inter.key")),
        "-out",
        s(&p("inter.csr")),
        "-subj",
        "/CN=OpenSSL Issuing CA/O=Elsewhere",
    ]);
    sign_csr(
        &p("inter.csr"),
        &p("root.pem"),
        &p("root.key"),
        "1825",
        &p("ca.ext"),
        &p("inter.pem"),
    );
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        s(&p("client.key")),
        "-out",
        s(&p("client.csr")),
        "-subj",
        "/CN=client.openssl.example/O=Elsewhere",
    ]);
    sign_csr(
        &p("client.csr"),
        &p("inter.pem"),
        &p("inter.key"),
        "400",
        &p("client.ext"),
        &p("client.pem"),
    );
    // The article's layout, with a PKCS#1 key as openssl writes it traditionally.
    openssl(&[
        "rsa",
        "-in",
        s(&p("client.key")),
        "-traditional",
        "-out",
        s(&p("client-pkcs1.key")),
    ]);
    let fullcert = concat(
        d,
        "fullcert.pem",
        &[&p("client-pkcs1.key"), &p("client.pem"), &p("inter.pem")],
    );
    let mut o = Options::new(&fullcert);
    o.cacert = vec![p("root.pem")];
    let report = inspect(&o);
    all_ok(&report);
    expect(&report, CheckId::ChainComplete, Status::Ok, "OpenSSL Root");
    expect(
        &report,
        CheckId::Subject,
        Status::Ok,
        "email:ops@openssl.example",
    );
    expect(&report, CheckId::KeyUsage, Status::Ok, "Digital Signature");
    // Not trusted: the chain is complete, but its root is unknown.
    let report = inspect(&Options::new(&fullcert));
    expect(
        &report,
        CheckId::ChainComplete,
        Status::Warning,
        "OpenSSL Root",
    );

    // openssl's PKCS#12 (AES-256, PBKDF2) with the chain and the root.
    openssl(&[
        "pkcs12",
        "-export",
        "-inkey",
        s(&p("client.key")),
        "-in",
        s(&p("client.pem")),
        "-certfile",
        s(&concat(d, "chain.pem", &[&p("inter.pem"), &p("root.pem")])),
        "-passout",
        "pass:openssl-p12-secret",
        "-out",
        s(&p("client.p12")),
    ]);
    let mut o = Options::new(p("client.p12"));
    o.password = Some(Secret::new("openssl-p12-secret"));
    let report = inspect(&o);
    expect(
        &report,
        CheckId::KeyMatchesLeaf,
        Status::Ok,
        "client.openssl.example",
    );
    expect(
        &report,
        CheckId::RootIncluded,
        Status::Warning,
        "OpenSSL Root",
    );
    assert!(!report.to_json().contains("openssl-p12-secret"));

    // An encrypted PEM key is reported, and the certificates are still checked.
    openssl(&[
        "pkey",
        "-in",
        s(&p("client.key")),
        "-aes256",
        "-passout",
        "pass:pem-secret",
        "-out",
        s(&p("client-enc.key")),
    ]);
    let mut o = Options::new(p("client.pem"));
    o.key = Some(p("client-enc.key"));
    o.chain = vec![p("inter.pem")];
    o.cacert = vec![p("root.pem")];
    let report = inspect(&o);
    expect(&report, CheckId::Blocks, Status::Error, "encrypted");
    expect(
        &report,
        CheckId::KeyMatchesLeaf,
        Status::Warning,
        "no private key",
    );
    expect(&report, CheckId::ChainComplete, Status::Ok, "OpenSSL Root");
}

#[test]
fn unreadable_and_odd_inputs_are_findings_not_failures() {
    let dir = tempfile::tempdir().unwrap();
    let report = inspect(&options(&dir.path().join("missing.pem")));
    expect(&report, CheckId::Blocks, Status::Error, "cannot read");
    assert_eq!(report.checks.len(), 1);
    assert_eq!(report.identity.format, "unknown");

    let junk = dir.path().join("junk.pem");
    std::fs::write(
        &junk,
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    expect(
        &inspect(&options(&junk)),
        CheckId::Blocks,
        Status::Error,
        "malformed PEM",
    );

    let big = dir.path().join("big.pem");
    std::fs::write(&big, vec![b'a'; 2 * 1024 * 1024]).unwrap();
    expect(
        &inspect(&options(&big)),
        CheckId::Blocks,
        Status::Error,
        "too large",
    );

    let binary = dir.path().join("binary.bin");
    std::fs::write(&binary, [0x30, 0x82, 0x01, 0x00, 0xde, 0xad]).unwrap();
    expect(
        &inspect(&options(&binary)),
        CheckId::Blocks,
        Status::Error,
        "neither a DER certificate nor a PKCS#12",
    );

    let pki = pki();
    let two_keys = concat(
        dir.path(),
        "two-keys.pem",
        &[&pki.fullcert, &pki.client_b_key],
    );
    let report = inspect(&options(&two_keys));
    expect(&report, CheckId::Blocks, Status::Error, "2 private keys");
    expect(
        &report,
        CheckId::KeyMatchesLeaf,
        Status::Ok,
        "integration.acme.example",
    );
}

#[test]
fn reports_never_hold_key_bytes() {
    let pki = pki();
    let secrets = key_lines(&[&pki.fullcert, &pki.mismatched_fullcert, &pki.client_b_key]);
    let dir = tempfile::tempdir().unwrap();
    let mixed = concat(
        dir.path(),
        "mixed.pem",
        &[&pki.mismatched_fullcert, &pki.client_b_key],
    );
    for file in [&pki.fullcert, &pki.mismatched_fullcert, &mixed] {
        let report = inspect(&options(file));
        let out = report.to_json() + &report.to_text();
        for line in &secrets {
            assert!(
                !out.contains(line.as_str()),
                "key bytes in the report of {}",
                file.display()
            );
        }
    }
}

#[tokio::test]
async fn connect_tells_accepted_from_rejected() {
    let pki = pki();
    let sim = start_sim().await;
    let address = sim.endpoints().mutual.to_string();

    let mut o = options(&pki.fullcert);
    o.connect = Some(address.clone());
    let report = doctor::check(&o).await;
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    let connect = report.connect.as_ref().expect("connect report");
    assert!(connect.client_certificate_requested);
    assert!(
        connect
            .ca_hints
            .iter()
            .any(|h| h.contains(twoway_testkit::pki::ROOT_CA_CN)),
        "{:?}",
        connect.ca_hints
    );
    assert_eq!(connect.chain_matches_hint, Some(true));
    assert_eq!(connect.accepted, Some(true));
    assert_eq!(connect.http_status, Some(500));
    assert!(
        connect
            .tls_version
            .as_deref()
            .is_some_and(|v| v.starts_with("TLSv1."))
    );
    assert!(connect.cipher_suite.is_some());
    expect(
        &report,
        CheckId::TlsHandshake,
        Status::Ok,
        "server certificate verified",
    );
    expect(
        &report,
        CheckId::ServerCaHints,
        Status::Ok,
        twoway_testkit::pki::ROOT_CA_CN,
    );
    expect(
        &report,
        CheckId::CertificateAccepted,
        Status::Ok,
        "INVALID_SESSION_ID",
    );

    let mut o = options(&pki.untrusted_client_fullcert);
    o.connect = Some(address.clone());
    let report = doctor::check(&o).await;
    let connect = report.connect.as_ref().expect("connect report");
    assert_eq!(connect.accepted, Some(false), "{}", report.to_text());
    assert_eq!(
        connect.rejection_reason.as_deref(),
        Some("unable to get local issuer certificate")
    );
    assert_eq!(connect.chain_matches_hint, Some(false));
    expect(
        &report,
        CheckId::CertificateAccepted,
        Status::Error,
        "unable to get local issuer certificate",
    );
    expect(
        &report,
        CheckId::ServerCaHints,
        Status::Warning,
        "Untrusted Test Root CA",
    );

    // The server's certificate is verified: without the test root it is not trusted.
    let mut o = Options::new(&pki.fullcert);
    o.connect = Some(address);
    let report = doctor::check(&o).await;
    expect(&report, CheckId::TlsHandshake, Status::Error, "not trusted");

    // The standard port does not ask for a certificate.
    let mut o = options(&pki.fullcert);
    o.connect = Some(sim.endpoints().standard.to_string());
    let report = doctor::check(&o).await;
    expect(
        &report,
        CheckId::ServerCaHints,
        Status::Warning,
        "did not ask",
    );
    assert_eq!(report.connect.as_ref().unwrap().accepted, None);

    // Nothing listening.
    let port = twoway_tests::free_port();
    let mut o = options(&pki.fullcert);
    o.connect = Some(format!("127.0.0.1:{port}"));
    expect(
        &doctor::check(&o).await,
        CheckId::TlsHandshake,
        Status::Error,
        "cannot connect",
    );
}
