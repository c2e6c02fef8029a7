//! Tests of [`super::inject`] on the seed's getUserInfo and client shapes.

use super::*;
use twoway_testkit::samples::*;

const SID: &str = "00D5g000004Acme!AQ0AQ.secret_part";

fn injected(api: Api, body: &str) -> String {
    let mut headers = HeaderMap::new();
    let out = inject(api, &Secret::new(SID), &mut headers, body.as_bytes()).unwrap();
    String::from_utf8(out).unwrap()
}

/// The session ids in SessionHeaders of `body`, checking it is still a good envelope.
fn sessions(body: &str) -> Vec<String> {
    let doc = xml::parse(body.as_bytes()).unwrap();
    assert!(xml::soap_body_element(&doc).is_some());
    let header = xml::soap_header(&doc).expect("a Header");
    header
        .descendants()
        .filter(|n| n.tag_name().name() == "SessionHeader")
        .map(|n| xml::child_text(n, "sessionId").unwrap().to_string())
        .collect()
}

#[test]
fn adds_a_header_to_the_seed_get_user_info() {
    let out = injected(Api::SoapPartner, GET_USER_INFO_NO_HEADER);
    assert_eq!(
        out,
        GET_USER_INFO_NO_HEADER.replace(
            r#"urn:sobject.partner.soap.sforce.com">"#,
            &format!(r#"urn:sobject.partner.soap.sforce.com"><soapenv:Header><SessionHeader xmlns="urn:partner.soap.sforce.com"><sessionId>{SID}</sessionId></SessionHeader></soapenv:Header>"#)
        )
    );
    assert_eq!(sessions(&out), [SID]);
}

#[test]
fn fills_an_empty_header_with_the_envelope_prefix() {
    let out = injected(Api::SoapPartner, JSFORCE_EMPTY_HEADER);
    assert!(out.starts_with(&format!(r#"<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header><SessionHeader xmlns="urn:partner.soap.sforce.com"><sessionId>{SID}</sessionId></SessionHeader></se:Header><se:Body>"#)), "{out}");
    assert_eq!(sessions(&out), [SID]);
}

#[test]
fn replaces_a_session_header_the_plugin_wrote() {
    let out = injected(Api::SoapPartner, GET_USER_INFO_WITH_SESSION);
    assert!(!out.contains("PLUGIN-WROTE-THIS"));
    assert_eq!(
        out.matches("SessionHeader").count(),
        2,
        "one element, start and end tag: {out}"
    );
    assert_eq!(sessions(&out), [SID]);
    assert!(out.contains("<soapenv:Body><urn:getUserInfo /></soapenv:Body>"));
    let two = GET_USER_INFO_WITH_SESSION.replace(
        "<soapenv:Header>",
        r#"<soapenv:Header><CallOptions xmlns="urn:partner.soap.sforce.com"><client>x</client></CallOptions><s:SessionHeader xmlns:s="urn:enterprise.soap.sforce.com"><s:sessionId>OTHER</s:sessionId></s:SessionHeader>"#,
    );
    let out = injected(Api::SoapPartner, &two);
    assert_eq!(sessions(&out), [SID]);
    assert!(out.contains(
        "<CallOptions xmlns=\"urn:partner.soap.sforce.com\"><client>x</client></CallOptions>"
    ));
}

#[test]
fn other_prefixes_and_namespaces() {
    let env = r#"<?xml version="1.0"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><describeMetadata xmlns="http://soap.sforce.com/2006/04/metadata"/></env:Body></env:Envelope>"#;
    let out = injected(Api::SoapMetadata, env);
    assert!(
        out.contains(
            r#"<env:Header><SessionHeader xmlns="http://soap.sforce.com/2006/04/metadata">"#
        ),
        "{out}"
    );
    let unprefixed = r#"<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><getUserInfo xmlns="urn:enterprise.soap.sforce.com"/></Body></Envelope>"#;
    let out = injected(Api::SoapEnterprise, unprefixed);
    assert!(out.contains(r#"<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Header><SessionHeader xmlns="urn:enterprise.soap.sforce.com">"#), "{out}");
    assert_eq!(sessions(&out), [SID]);
    let spaced = JSFORCE_EMPTY_HEADER.replace("<se:Header/>", r#"<se:Header a="1>2" />"#);
    assert_eq!(sessions(&injected(Api::SoapPartner, &spaced)), [SID]);
}

#[test]
fn escapes_the_session_id() {
    let mut headers = HeaderMap::new();
    let sid = Secret::new("a<b&c\"d'");
    let out = inject(
        Api::SoapPartner,
        &sid,
        &mut headers,
        JSFORCE_EMPTY_HEADER.as_bytes(),
    )
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("<sessionId>a&lt;b&amp;c&quot;d&apos;</sessionId>"),
        "{out}"
    );
    assert_eq!(sessions(&out), ["a<b&c\"d'"]);
}

#[test]
fn refuses_what_is_not_a_soap_11_envelope() {
    let doctype = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Body>&a;</se:Body></se:Envelope>"#;
    for (body, needle) in [
        (doctype, "DOCTYPE"),
        ("", "Premature end of file"),
        (r#"{"json":true}"#, "not XML"),
        ("<login/>", "`login`"),
        (
            r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>"#,
            "SOAP 1.2",
        ),
        (
            r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Header/></e:Envelope>"#,
            "no Body",
        ),
    ] {
        let mut headers = HeaderMap::new();
        let err = inject(
            Api::SoapPartner,
            &Secret::new(SID),
            &mut headers,
            body.as_bytes(),
        )
        .unwrap_err();
        assert!(matches!(err, SalesforceError::NotAnEnvelope(_)));
        let text = err.to_string();
        assert!(
            text.contains(needle) && text.contains("SessionHeader"),
            "{text}"
        );
        assert!(!text.contains(SID));
    }
}

#[test]
fn headers_for_rest_bulk_and_apex() {
    for (api, name, value) in [
        (Api::Rest, "authorization", format!("Bearer {SID}")),
        (Api::ApexRest, "authorization", format!("Bearer {SID}")),
        (Api::Bulk, "x-sfdc-session", SID.to_string()),
    ] {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer plugin".parse().unwrap());
        headers.insert("x-sfdc-session", "plugin".parse().unwrap());
        headers.insert("cookie", "sid=plugin".parse().unwrap());
        headers.insert("content-type", "application/json".parse().unwrap());
        let body = inject(api, &Secret::new(SID), &mut headers, b"{\"a\":1}").unwrap();
        assert_eq!(body, b"{\"a\":1}");
        assert_eq!(headers.get(name).unwrap(), value.as_str());
        assert!(headers.get(name).unwrap().is_sensitive());
        assert_eq!(headers.len(), 2, "{api}: {headers:?}");
        assert!(headers.get("cookie").is_none());
    }
    let mut headers = HeaderMap::new();
    headers.insert("authorization", "Bearer plugin".parse().unwrap());
    headers.insert("content-length", "3".parse().unwrap());
    inject(
        Api::SoapPartner,
        &Secret::new(SID),
        &mut headers,
        JSFORCE_EMPTY_HEADER.as_bytes(),
    )
    .unwrap();
    assert!(headers.is_empty());
    let err = inject(
        Api::Rest,
        &Secret::new("bad\nid"),
        &mut HeaderMap::new(),
        b"",
    )
    .unwrap_err();
    assert_eq!(err, SalesforceError::InvalidSessionId);
}

#[test]
fn strips_secrets_from_responses() {
    let mut headers = HeaderMap::new();
    headers.append("set-cookie", "sid=1".parse().unwrap());
    headers.append("set-cookie", "BrowserId=2".parse().unwrap());
    headers.insert("authorization", "Bearer x".parse().unwrap());
    headers.insert("sforce-limit-info", "api-usage=1/15000".parse().unwrap());
    strip_secrets(&mut headers);
    assert_eq!(headers.len(), 1);
    assert!(headers.contains_key("sforce-limit-info"));
}

#[test]
fn bodies_over_the_xml_caps_are_refused_with_the_cap() {
    use twoway_testkit::hostile;
    for (body, needle) in [
        (
            hostile::namespace_heavy_envelope(),
            "declares more than 64 namespaces",
        ),
        (
            hostile::attribute_heavy_envelope(),
            "more than 256 attributes",
        ),
    ] {
        let err = prepare(Api::SoapPartner, &Bytes::from(body)).unwrap_err();
        assert!(matches!(err, SalesforceError::OverLimits(_)), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(needle) && text.contains("line 1"), "{text}");
    }
}

#[test]
fn a_prepared_body_takes_each_session_in_turn() {
    let prepared = prepare(Api::SoapPartner, &Bytes::from(GET_USER_INFO_NO_HEADER)).unwrap();
    for sid in [SID, "00D5g000004Acme!second<&>"] {
        let mut headers = HeaderMap::new();
        let body = prepared.apply(&Secret::new(sid), &mut headers).unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert_eq!(sessions(&body), [sid]);
        let mut direct = HeaderMap::new();
        let once = inject(
            Api::SoapPartner,
            &Secret::new(sid),
            &mut direct,
            GET_USER_INFO_NO_HEADER.as_bytes(),
        )
        .unwrap();
        assert_eq!(body.as_bytes(), once.as_slice());
    }
}

#[test]
fn a_body_parsed_by_its_caller_is_prepared_as_from_its_bytes() {
    for body in [
        GET_USER_INFO_NO_HEADER,
        GET_USER_INFO_WITH_SESSION,
        JSFORCE_EMPTY_HEADER,
    ] {
        let bytes = Bytes::from(body);
        let doc = xml::parse(&bytes).unwrap();
        let parsed = prepare_parsed(Api::SoapPartner, &bytes, &doc).unwrap();
        let read = prepare(Api::SoapPartner, &bytes).unwrap();
        let (mut a, mut b) = (HeaderMap::new(), HeaderMap::new());
        let sid = Secret::new(SID);
        assert_eq!(
            parsed.apply(&sid, &mut a).unwrap(),
            read.apply(&sid, &mut b).unwrap()
        );
    }
    // Not an envelope: the same refusal either way.
    let bytes = Bytes::from_static(b"<a/>");
    let doc = xml::parse(&bytes).unwrap();
    let parsed = prepare_parsed(Api::SoapPartner, &bytes, &doc).unwrap_err();
    let read = prepare(Api::SoapPartner, &bytes).unwrap_err();
    assert_eq!(parsed.to_string(), read.to_string());
    // REST bodies go as written.
    let json = Bytes::from_static(b"{}");
    let rest = prepare_parsed(Api::Rest, &json, &doc).unwrap();
    assert_eq!(
        rest.apply(&Secret::new(SID), &mut HeaderMap::new())
            .unwrap(),
        json
    );
}

#[test]
fn nested_and_repeated_session_headers_all_go() {
    let body = r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Header><h><SessionHeader><sessionId>a</sessionId><SessionHeader><sessionId>b</sessionId></SessionHeader></SessionHeader></h><SessionHeader><sessionId>c</sessionId></SessionHeader><keep/></e:Header><e:Header><SessionHeader/></e:Header><e:Body/></e:Envelope>"#;
    let out = injected(Api::SoapPartner, body);
    assert_eq!(
        out,
        format!(
            r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Header><SessionHeader xmlns="urn:partner.soap.sforce.com"><sessionId>{}</sessionId></SessionHeader><h></h><keep/></e:Header><e:Header></e:Header><e:Body/></e:Envelope>"#,
            xml::escape(SID)
        )
    );
}
