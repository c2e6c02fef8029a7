//! Builds the test PKI in memory: keys, certificates and the bytes of every
//! file except README.txt, ready for `init` to write.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use p12_keystore::{KeyStore, KeyStoreEntry, PrivateKeyChain};
use pkcs8::{ObjectIdentifier, PrivateKeyInfoRef};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose as Eku, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    PKCS_RSA_SHA256, RsaKeySize, SanType, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use time::{Duration, OffsetDateTime};

use super::{
    CLIENT_B_CN, CLIENT_B_ORG, CLIENT_CN, CLIENT_ORG, INTERMEDIATE_CA_CN, P12_PASSWORD, PkiError,
    ROOT_CA_CN, UNTRUSTED_CA_CN,
};

/// `rsaEncryption`, the PKCS#8 algorithm of an RSA key.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// Organisation of both CAs.
const PKI_ORG: &str = "twoway Test PKI";

/// One file of the PKI, not yet written.
pub(super) struct Output {
    pub name: &'static str,
    pub contents: Vec<u8>,
    /// Holds a private key: written with mode 0600.
    pub private: bool,
}

type Ca = CertifiedIssuer<'static, KeyPair>;

/// Generates every file of the PKI except README.txt.
pub(super) fn generate() -> Result<Vec<Output>, PkiError> {
    let now = OffsetDateTime::now_utc();
    let ca_validity = (now - Duration::days(1), now + Duration::days(3650));
    let good = (now - Duration::days(1), now + Duration::days(825));
    let expired = (now - Duration::days(400), now - Duration::days(30));
    let mut out = Files(Vec::new());

    let root_params = ca_params(ROOT_CA_CN, BasicConstraints::Unconstrained, ca_validity);
    let root =
        Ca::self_signed(root_params, ec_key("root-ca.key")?).map_err(gen_err("root-ca.pem"))?;
    let inter_params = ca_params(
        INTERMEDIATE_CA_CN,
        BasicConstraints::Constrained(0),
        ca_validity,
    );
    let inter = Ca::signed_by(inter_params, ec_key("intermediate-ca.key")?, &root)
        .map_err(gen_err("intermediate-ca.pem"))?;
    out.public("root-ca.pem", cert_pem(root.der()));
    out.private("root-ca.key", pkcs8_pem(root.key()));
    out.public("intermediate-ca.pem", cert_pem(inter.der()));
    out.private("intermediate-ca.key", pkcs8_pem(inter.key()));
    let chain = [inter.der()];

    // The first tenant's identity, in every shape a loader may meet.
    let key = rsa_key("client.key")?;
    let params = leaf_params(CLIENT_CN, CLIENT_ORG, Eku::ClientAuth, &key, good);
    let client = issue("client.pem", &params, &key, &inter)?;
    out.identity(
        ["client.pem", "client.key", "fullcert.pem"],
        &key,
        &client,
        &chain,
    )?;
    out.public("client-chain.pem", cert_pem(inter.der()));
    out.private_bytes("client.p12", p12(&key, &client, inter.der())?);

    let key = rsa_key("client-b.key")?;
    let params = leaf_params(CLIENT_B_CN, CLIENT_B_ORG, Eku::ClientAuth, &key, good);
    let cert = issue("client-b.pem", &params, &key, &inter)?;
    out.identity(
        ["client-b.pem", "client-b.key", "fullcert-b.pem"],
        &key,
        &cert,
        &chain,
    )?;

    let key = ec_key("client-ec.key")?;
    let params = leaf_params(
        "integration-ec.acme.example",
        CLIENT_ORG,
        Eku::ClientAuth,
        &key,
        good,
    );
    let cert = issue("client-ec.pem", &params, &key, &inter)?;
    out.identity(
        ["client-ec.pem", "client-ec.key", "fullcert-ec.pem"],
        &key,
        &cert,
        &chain,
    )?;

    let key = ec_key("server.key")?;
    let mut params = leaf_params("localhost", PKI_ORG, Eku::ServerAuth, &key, good);
    params.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into().map_err(gen_err("server.pem"))?),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    let cert = issue("server.pem", &params, &key, &inter)?;
    out.public("server.pem", cert_pem(&cert) + &cert_pem(inter.der()));
    out.private("server.key", pkcs8_pem(&key));

    // Negative material: each must be refused by a verifier trusting root-ca.pem.
    let key = rsa_key("selfsigned-client.key")?;
    let params = leaf_params(
        "selfsigned.acme.example",
        CLIENT_ORG,
        Eku::ClientAuth,
        &key,
        good,
    );
    let cert = params
        .self_signed(&key)
        .map_err(gen_err("selfsigned-client.pem"))?;
    let names = [
        "selfsigned-client.pem",
        "selfsigned-client.key",
        "selfsigned-client-fullcert.pem",
    ];
    out.identity(names, &key, cert.der(), &[])?;

    let key = rsa_key("expired-client.key")?;
    let params = leaf_params(
        "expired.acme.example",
        CLIENT_ORG,
        Eku::ClientAuth,
        &key,
        expired,
    );
    let cert = issue("expired-client.pem", &params, &key, &inter)?;
    let names = [
        "expired-client.pem",
        "expired-client.key",
        "expired-client-fullcert.pem",
    ];
    out.identity(names, &key, &cert, &chain)?;

    let params = ca_params(
        UNTRUSTED_CA_CN,
        BasicConstraints::Unconstrained,
        ca_validity,
    );
    let untrusted = Ca::self_signed(params, ec_key("untrusted-ca.key")?)
        .map_err(gen_err("untrusted-ca.pem"))?;
    out.public("untrusted-ca.pem", cert_pem(untrusted.der()));
    out.private("untrusted-ca.key", pkcs8_pem(untrusted.key()));
    let key = rsa_key("untrusted-client.key")?;
    let params = leaf_params(
        "untrusted.acme.example",
        CLIENT_ORG,
        Eku::ClientAuth,
        &key,
        good,
    );
    let cert = issue("untrusted-client.pem", &params, &key, &untrusted)?;
    let names = [
        "untrusted-client.pem",
        "untrusted-client.key",
        "untrusted-client-fullcert.pem",
    ];
    out.identity(names, &key, &cert, &[])?;

    let stranger = rsa_key("mismatched-fullcert.pem")?;
    let bundle = pkcs1_pem(&stranger, "mismatched-fullcert.pem")?
        + &cert_pem(&client)
        + &cert_pem(inter.der());
    out.private("mismatched-fullcert.pem", bundle);

    let key = rsa_key("codesign-client.key")?;
    let params = leaf_params(
        "codesign.acme.example",
        CLIENT_ORG,
        Eku::CodeSigning,
        &key,
        good,
    );
    let cert = issue("codesign-client.pem", &params, &key, &inter)?;
    let names = [
        "codesign-client.pem",
        "codesign-client.key",
        "codesign-client-fullcert.pem",
    ];
    out.identity(names, &key, &cert, &chain)?;

    Ok(out.0)
}

/// The files generated so far.
struct Files(Vec<Output>);

impl Files {
    fn public(&mut self, name: &'static str, text: String) {
        self.0.push(Output {
            name,
            contents: text.into_bytes(),
            private: false,
        });
    }

    fn private(&mut self, name: &'static str, text: String) {
        self.private_bytes(name, text.into_bytes());
    }

    fn private_bytes(&mut self, name: &'static str, contents: Vec<u8>) {
        self.0.push(Output {
            name,
            contents,
            private: true,
        });
    }

    /// `[cert, key, fullcert]`: the leaf alone; the key (PKCS#8, or SEC1 for
    /// EC); the article's bundle of key (PKCS#1 or SEC1), leaf and `chain`.
    fn identity(
        &mut self,
        [cert_name, key_name, fullcert_name]: [&'static str; 3],
        key: &KeyPair,
        cert: &CertificateDer<'_>,
        chain: &[&CertificateDer<'_>],
    ) -> Result<(), PkiError> {
        let (key_file, bundle_key) = if is_rsa(key) {
            (pkcs8_pem(key), pkcs1_pem(key, fullcert_name)?)
        } else {
            let sec1 = sec1_pem(key, key_name)?;
            (sec1.clone(), sec1)
        };
        let mut bundle = bundle_key + &cert_pem(cert);
        for ca in chain {
            bundle += &cert_pem(ca);
        }
        self.public(cert_name, cert_pem(cert));
        self.private(key_name, key_file);
        self.private(fullcert_name, bundle);
        Ok(())
    }
}

fn gen_err(file: &'static str) -> impl Fn(rcgen::Error) -> PkiError {
    move |source| PkiError::Generate { file, source }
}

fn rsa_key(file: &'static str) -> Result<KeyPair, PkiError> {
    KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048).map_err(gen_err(file))
}

fn ec_key(file: &'static str) -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen_err(file))
}

fn is_rsa(key: &KeyPair) -> bool {
    key.algorithm() == &PKCS_RSA_SHA256
}

fn name(cn: &str, org: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, org);
    dn
}

/// A random positive 16-byte serial number.
fn serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = (bytes[0] & 0x7f) | 0x40; // positive, no leading zero byte
    SerialNumber::from_slice(&bytes)
}

fn base_params(
    cn: &str,
    org: &str,
    (from, until): (OffsetDateTime, OffsetDateTime),
) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(cn, org);
    params.not_before = from;
    params.not_after = until;
    params.serial_number = Some(serial());
    params.use_authority_key_identifier_extension = true;
    params
}

fn ca_params(
    cn: &str,
    constraint: BasicConstraints,
    validity: (OffsetDateTime, OffsetDateTime),
) -> CertificateParams {
    let mut params = base_params(cn, PKI_ORG, validity);
    params.is_ca = IsCa::Ca(constraint);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// An end-entity certificate with one extended key usage; RSA keys also get
/// keyEncipherment.
fn leaf_params(
    cn: &str,
    org: &str,
    eku: Eku,
    key: &KeyPair,
    validity: (OffsetDateTime, OffsetDateTime),
) -> CertificateParams {
    let mut params = base_params(cn, org, validity);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if is_rsa(key) {
        params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    params.extended_key_usages = vec![eku];
    params
}

fn issue(
    file: &'static str,
    params: &CertificateParams,
    key: &KeyPair,
    issuer: &Issuer<'_, KeyPair>,
) -> Result<CertificateDer<'static>, PkiError> {
    let cert = params.signed_by(key, issuer).map_err(gen_err(file))?;
    Ok(cert.der().clone())
}

fn cert_pem(der: &CertificateDer<'_>) -> String {
    twoway::pem::encode("CERTIFICATE", der)
}

fn pkcs8_pem(key: &KeyPair) -> String {
    twoway::pem::encode("PRIVATE KEY", key.serialized_der())
}

/// The RSA key as PKCS#1 `RSA PRIVATE KEY`: the RSAPrivateKey that PKCS#8
/// carries in its privateKey OCTET STRING.
fn pkcs1_pem(key: &KeyPair, file: &'static str) -> Result<String, PkiError> {
    let encode_err = |reason: String| PkiError::Encode { file, reason };
    let info = PrivateKeyInfoRef::try_from(key.serialized_der())
        .map_err(|e| encode_err(format!("PKCS#8 key does not parse: {e}")))?;
    if info.algorithm.oid != RSA_ENCRYPTION {
        return Err(encode_err(format!(
            "not an RSA key: {}",
            info.algorithm.oid
        )));
    }
    Ok(twoway::pem::encode(
        "RSA PRIVATE KEY",
        info.private_key.as_bytes(),
    ))
}

/// The EC key as SEC1 `EC PRIVATE KEY` (RFC 5915, with the curve named).
fn sec1_pem(key: &KeyPair, file: &'static str) -> Result<String, PkiError> {
    let encode_err = |what: &str| PkiError::Encode {
        file,
        reason: format!("{what} failed"),
    };
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, key.serialized_der())
        .map_err(|_| encode_err("parsing the P-256 PKCS#8 key"))?;
    let der = pair
        .private_key()
        .as_der()
        .map_err(|_| encode_err("SEC1 encoding"))?;
    Ok(twoway::pem::encode("EC PRIVATE KEY", der.as_ref()))
}

/// PKCS#12 of the client key, its certificate and the issuing CA.
fn p12(
    key: &KeyPair,
    cert: &CertificateDer<'_>,
    issuer: &CertificateDer<'_>,
) -> Result<Vec<u8>, PkiError> {
    let encode_err = |e: p12_keystore::error::Error| PkiError::Encode {
        file: "client.p12",
        reason: e.to_string(),
    };
    let key = p12_keystore::PrivateKey::from_der(key.serialized_der()).map_err(encode_err)?;
    let certs = [cert, issuer]
        .into_iter()
        .map(|der| p12_keystore::Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(encode_err)?;
    let mut store = KeyStore::new();
    let chain = PrivateKeyChain::new("client", key, certs);
    store.add_entry("client", KeyStoreEntry::PrivateKeyChain(chain));
    store.writer(P12_PASSWORD).write().map_err(encode_err)
}
