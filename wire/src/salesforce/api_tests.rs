//! Tests of [`super::resolve`] and [`super::Instance`]: bases, port rewrite, traversal.

use super::*;

fn instance() -> Instance {
    Instance::from_server_url(
        "https://na30.salesforce.com/services/Soap/u/41.0/00D36000000bLGT",
        Some("https://na30.salesforce.com/services/Soap/m/41.0/00D36000000bLGT"),
        "62.0",
    )
    .unwrap()
}

fn url(api: Api, path: &str) -> String {
    resolve(api, path, &instance(), None).unwrap().to_string()
}

#[test]
fn instance_from_the_superpat_server_url() {
    let i = instance();
    assert_eq!(i.base_url, "https://na30.salesforce.com");
    assert_eq!(i.partner_path, "/services/Soap/u/41.0/00D36000000bLGT");
    assert_eq!(
        i.metadata_path.as_deref(),
        Some("/services/Soap/m/41.0/00D36000000bLGT")
    );
    assert_eq!(
        (i.api_version.as_str(), i.org_id.as_str()),
        ("41.0", "00D36000000bLGT")
    );
}

#[test]
fn enterprise_server_url_maps_to_the_partner_path() {
    let i = Instance::from_server_url(
        "https://eu1.salesforce.com/services/Soap/c/29.0/00Di0000000icUB/0DFi00000008UYO",
        None,
        "29.0",
    )
    .unwrap();
    assert_eq!(i.partner_path, "/services/Soap/u/29.0/00Di0000000icUB");
    assert_eq!(
        i.base_path(Api::SoapEnterprise),
        "/services/Soap/c/29.0/00Di0000000icUB"
    );
}

#[test]
fn every_base() {
    let base = "https://na30.salesforce.com";
    for (api, path, expected) in [
        (
            Api::SoapPartner,
            "",
            "/services/Soap/u/41.0/00D36000000bLGT",
        ),
        (
            Api::SoapEnterprise,
            "",
            "/services/Soap/c/41.0/00D36000000bLGT",
        ),
        (
            Api::SoapMetadata,
            "",
            "/services/Soap/m/41.0/00D36000000bLGT",
        ),
        (
            Api::Rest,
            "query?q=SELECT+Id+FROM+Account",
            "/services/data/v41.0/query?q=SELECT+Id+FROM+Account",
        ),
        (Api::Rest, "", "/services/data/v41.0/"),
        (Api::Bulk, "job", "/services/async/41.0/job"),
    ] {
        assert_eq!(
            url(api, path),
            format!("{base}{expected}"),
            "{api:?} {path}"
        );
    }
    assert_eq!(
        url(Api::ApexRest, "acme/v1/orders"),
        format!("{base}/services/apexrest/acme/v1/orders")
    );
    let mut no_metadata = instance();
    no_metadata.metadata_path = None;
    assert_eq!(
        no_metadata.base_path(Api::SoapMetadata),
        "/services/Soap/m/41.0/00D36000000bLGT"
    );
}

#[test]
fn port_rewrite_keeps_scheme_and_host() {
    let u = resolve(Api::Rest, "limits", &instance(), Some(8443)).unwrap();
    assert_eq!(
        u.to_string(),
        "https://na30.salesforce.com:8443/services/data/v41.0/limits"
    );
    let mut local = instance();
    local.base_url = "https://127.0.0.1:4443".parse().unwrap();
    let u = resolve(Api::SoapPartner, "", &local, Some(9443)).unwrap();
    assert_eq!(
        u.to_string(),
        "https://127.0.0.1:9443/services/Soap/u/41.0/00D36000000bLGT"
    );
    let u = resolve(Api::SoapPartner, "", &local, None).unwrap();
    assert_eq!(u.port_u16(), Some(4443));
}

#[test]
fn paths_that_leave_the_base_are_refused() {
    for bad in [
        "../../services/Soap/u/62.0",
        "sobjects/..",
        "sobjects/%2e%2e/%2E%2E/x",
        "sobjects/.%2E/x",
        "sobjects/%252e%252e/x",
        "sobjects/..%2f..%2fx",
        "./query",
        "http://evil.example/x",
        "https:evil",
        "//evil.example/x",
        "/services/data/v62.0/query",
        "sobjects\\..\\x",
        "sobjects/Account\r\nHost: evil",
        "sobjects/%0d%0aX",
        "sobjects//Account",
        "query#frag",
        "query?q=1#frag",
        "query?q=a\nb",
        "sobjects/Account name",
        "sobjects/Åccount",
        "query?q=Åccount",
    ] {
        let err = resolve(Api::Rest, bad, &instance(), None).unwrap_err();
        assert!(
            matches!(err, SalesforceError::InvalidPath { .. }),
            "{bad}: {err}"
        );
    }
    let err = resolve(Api::Rest, "/services/data/v62.0/query", &instance(), None).unwrap_err();
    assert!(err.to_string().contains("leading slash"), "{err}");
    assert!(
        err.to_string().contains("relative to the API's base"),
        "{err}"
    );
}

#[test]
fn ordinary_paths_are_kept() {
    assert_eq!(
        url(Api::Rest, "sobjects/Account/Ext__c/a%2Fb"),
        "https://na30.salesforce.com/services/data/v41.0/sobjects/Account/Ext__c/a%2Fb"
    );
    assert_eq!(
        url(
            Api::Rest,
            "query?q=SELECT+Id+FROM+Account+WHERE+Name='a/../b'"
        ),
        "https://na30.salesforce.com/services/data/v41.0/query?q=SELECT+Id+FROM+Account+WHERE+Name='a/../b'"
    );
}

#[test]
fn api_names_round_trip() {
    for api in Api::ALL {
        assert_eq!(api.name().parse::<Api>().unwrap(), api);
    }
    assert!(
        "soap"
            .parse::<Api>()
            .unwrap_err()
            .to_string()
            .contains("soap-partner")
    );
}

#[test]
fn oauth_instance() {
    let i = Instance::from_instance_url("https://na1.salesforce.com", "62.0", "00Dx0000000BV7zEAG")
        .unwrap();
    assert_eq!(i.partner_path, "/services/Soap/u/62.0/00Dx0000000BV7z");
    assert_eq!(i.org_id, "00Dx0000000BV7z");
    assert!(Instance::from_instance_url("ftp://x", "62.0", "00D").is_err());
    assert!(Instance::from_instance_url("https://x", "v62", "00D").is_err());
}
