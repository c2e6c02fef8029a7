//! Tests of [`super::Envelope`]: the plain reader says of every envelope it
//! reads what the tree says.

use super::*;
use twoway_testkit::samples::*;

/// The envelope as the tree reads it, or `None` when the parse refuses it.
fn by_tree(api: Api, body: &[u8]) -> Option<Envelope> {
    let bytes = Bytes::copy_from_slice(body);
    let doc = xml::parse(&bytes).ok()?;
    Some(Envelope::of_tree(api, &bytes, &doc))
}

fn by_plain(api: Api, body: &[u8]) -> Option<Envelope> {
    Envelope::plain(api, body)
}

/// The plain reader reads `xml` (for `api`) and says what the tree says;
/// what it read.
fn read_alike(api: Api, xml: &str) -> Envelope {
    let plain = by_plain(api, xml.as_bytes());
    let plain = plain.unwrap_or_else(|| panic!("read without a tree: {xml}"));
    assert_eq!(Some(&plain), by_tree(api, xml.as_bytes()).as_ref(), "{xml}");
    plain
}

const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// jsforce's envelope (its `_createEnvelope`): the API's namespace the
/// default on Header and Body, unprefixed SessionHeader and CallOptions.
fn jsforce(header: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Header xmlns="urn:partner.soap.sforce.com">{header}</soapenv:Header><soapenv:Body xmlns="urn:partner.soap.sforce.com">{body}</soapenv:Body></soapenv:Envelope>"#
    )
}

/// WSC's (and Data Loader's) envelope as tests/clients/java/Peer.java
/// writes it: `env:`, a SessionHeader with its own default namespace, the
/// operation `m:` with `sobj:` declared on it.
fn wsc(ns: &str, session: &str, call_options: bool, operation: &str, body: &str) -> String {
    let options = if call_options {
        format!(
            r#"<CallOptions xmlns="{ns}"><client>DataLoaderBulkUI/67.0.0</client></CallOptions>"#
        )
    } else {
        String::new()
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{SOAP_ENV_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><env:Header><SessionHeader xmlns="{ns}"><sessionId>{session}</sessionId></SessionHeader>{options}</env:Header><env:Body><m:{operation} xmlns:m="{ns}" xmlns:sobj="urn:sobject.partner.soap.sforce.com">{body}</m:{operation}></env:Body></env:Envelope>"#
    )
}

/// The envelopes clients and the repository send to a SOAP API, with the
/// API, the session and the operation each carries: the seed's and the
/// bench's getUserInfo, the plugin SDK's, jsforce's, WSC's, Data
/// Loader's, the sf CLI's executeAnonymous, the simulator tests'
/// enterprise calls, the policy tests'.
fn client_envelopes() -> Vec<(Api, String, Option<&'static str>, &'static str)> {
    let partner = Api::SoapPartner;
    let enterprise = Api::SoapEnterprise;
    vec![
        (partner, GET_USER_INFO_NO_HEADER.into(), None, "getUserInfo"),
        (
            partner,
            GET_USER_INFO_WITH_SESSION.into(),
            Some("PLUGIN-WROTE-THIS"),
            "getUserInfo",
        ),
        (partner, JSFORCE_EMPTY_HEADER.into(), None, "getUserInfo"),
        // The bench's (bench/src/env.rs) and doctor's probe.
        (
            partner,
            format!(
                r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Header><urn:SessionHeader><urn:sessionId>00DGW!tok</urn:sessionId></urn:SessionHeader></soapenv:Header><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#
            ),
            Some("00DGW!tok"),
            "getUserInfo",
        ),
        (
            partner,
            format!(
                r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#
            ),
            None,
            "getUserInfo",
        ),
        // The plugin SDK's (plugins/sdk/src/soap.rs): no Header.
        (
            partner,
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:urn="urn:partner.soap.sforce.com" xmlns:urn1="urn:sobject.partner.soap.sforce.com"><soapenv:Body><urn:query><urn:queryString>SELECT Id FROM Contact WHERE Email = &apos;a@b.example&apos;</urn:queryString></urn:query></soapenv:Body></soapenv:Envelope>"#
            ),
            None,
            "query",
        ),
        (
            partner,
            jsforce(
                "<SessionHeader><sessionId>00D!js&amp;force</sessionId></SessionHeader>",
                "<query><queryString>SELECT Id, Name FROM Account WHERE Name = &apos;A &amp; B&apos;</queryString></query>",
            ),
            Some("00D!js&force"),
            "query",
        ),
        (
            partner,
            jsforce(
                "<SessionHeader><sessionId>tok</sessionId></SessionHeader><CallOptions><client>jsforce</client></CallOptions>",
                r#"<create><sObjects xsi:type="Account"><Name>Acme</Name><Phone xsi:nil="true"></Phone></sObjects></create>"#,
            ),
            Some("tok"),
            "create",
        ),
        (
            partner,
            wsc(
                "urn:partner.soap.sforce.com",
                "00D!wsc",
                false,
                "getUserInfo",
                "",
            ),
            Some("00D!wsc"),
            "getUserInfo",
        ),
        (
            partner,
            wsc(
                "urn:partner.soap.sforce.com",
                "00D!dl",
                true,
                "create",
                r#"<m:sObjects><sobj:type>Account</sobj:type><sobj:Name>Data &lt;Loader&gt;</sobj:Name></m:sObjects>"#,
            ),
            Some("00D!dl"),
            "create",
        ),
        (
            enterprise,
            wsc(
                "urn:enterprise.soap.sforce.com",
                "00D!ent",
                false,
                "query",
                "<m:queryString>SELECT Id FROM Account</m:queryString>",
            ),
            Some("00D!ent"),
            "query",
        ),
        // tests/src/lib.rs `api_envelope`: indented, `<urn:getUserInfo />`.
        (
            partner,
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<soapenv:Envelope xmlns:soapenv=\"{SOAP_ENV_NS}\" xmlns:urn=\"urn:partner.soap.sforce.com\" xmlns:urn1=\"urn:sobject.partner.soap.sforce.com\">\n  <soapenv:Header><urn:SessionHeader><urn:sessionId>00D!seed</urn:sessionId></urn:SessionHeader></soapenv:Header>\n  <soapenv:Body><urn:getUserInfo /></soapenv:Body>\n</soapenv:Envelope>"
            ),
            Some("00D!seed"),
            "getUserInfo",
        ),
        // tests/tests/sim_soap_api.rs's enterprise calls.
        (
            enterprise,
            format!(
                r#"<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" xmlns:urn="urn:enterprise.soap.sforce.com" xmlns:urn1="urn:sobject.enterprise.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Header><urn:SessionHeader><urn:sessionId>00D!sim</urn:sessionId></urn:SessionHeader></soapenv:Header><soapenv:Body><urn:create><urn:sObjects xsi:type="urn1:Account"><urn1:Name>Acme</urn1:Name></urn:sObjects></urn:create></soapenv:Body></soapenv:Envelope>"#
            ),
            Some("00D!sim"),
            "create",
        ),
        // tests/tests/policies.rs.
        (
            partner,
            format!(
                r#"<se:Envelope xmlns:se="{SOAP_ENV_NS}"><se:Header><SessionHeader xmlns="urn:partner.soap.sforce.com"><sessionId>gone</sessionId></SessionHeader></se:Header><se:Body><delete xmlns="urn:partner.soap.sforce.com"/></se:Body></se:Envelope>"#
            ),
            Some("gone"),
            "delete",
        ),
        // The sf CLI's executeAnonymous (Apex SOAP): indented, two headers.
        (
            Api::SoapApex,
            format!(
                "<env:Envelope xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"\nxmlns:env=\"{SOAP_ENV_NS}\"\nxmlns:cmd=\"http://soap.sforce.com/2006/08/apex\"\nxmlns:apex=\"http://soap.sforce.com/2006/08/apex\">\n    <env:Header>\n        <cmd:SessionHeader>\n            <cmd:sessionId>00D!cli</cmd:sessionId>\n        </cmd:SessionHeader>\n        <apex:DebuggingHeader><apex:debugLevel>DEBUGONLY</apex:debugLevel></apex:DebuggingHeader>\n    </env:Header>\n    <env:Body>\n        <executeAnonymous xmlns=\"http://soap.sforce.com/2006/08/apex\">\n            <apexString>System.debug(1 &lt; 2);</apexString>\n        </executeAnonymous>\n    </env:Body>\n</env:Envelope>"
            ),
            Some("00D!cli"),
            "executeAnonymous",
        ),
    ]
}

#[test]
fn clients_envelopes_are_read_without_a_tree_as_the_tree_reads_them() {
    for (api, xml, session, operation) in client_envelopes() {
        let read = read_alike(api, &xml);
        assert_eq!(read.session.as_deref(), session, "{xml}");
        assert_eq!(read.operation.as_deref(), Some(operation), "{xml}");
        assert!(read.prepared.is_some(), "{xml}");
    }
}

/// Envelopes at the edges of the plain subset, read without a tree, with
/// the session each carries.
#[test]
fn edge_cases_in_the_plain_subset_are_read_as_the_tree_reads_them() {
    let envelope = |inside: &str| {
        format!(
            r#"<se:Envelope xmlns:se="{SOAP_ENV_NS}">{inside}<se:Body><q xmlns="urn:partner.soap.sforce.com"/></se:Body></se:Envelope>"#
        )
    };
    let session = |id: &str| {
        format!("<se:Header><SessionHeader><sessionId>{id}</sessionId></SessionHeader></se:Header>")
    };
    let cases: Vec<(String, Option<&str>)> = vec![
        // `>` (and `/>`) inside a quoted attribute of the Header.
        (
            envelope(
                r#"<se:Header a="x>y" b='/>'><SessionHeader><sessionId>s</sessionId></SessionHeader></se:Header>"#,
            ),
            Some("s"),
        ),
        (envelope(r#"<se:Header a="x>y"/>"#), None),
        // Entities and character references in the session.
        (
            envelope(&session("a&amp;b&lt;c&gt;d&quot;e&apos;f&#65;&#x42;")),
            Some("a&b<c>d\"e'fAB"),
        ),
        (envelope(&session("&#x1F600;")), Some("\u{1F600}")),
        // The longest references read, one ending the text; U+FFFD (EF BF
        // BD, next to the refused EF BF BE) as it is.
        (envelope(&session("&#x00000041;b&#00000067;")), Some("AbC")),
        (envelope(&session("]\u{FFFD}]")), Some("]\u{FFFD}]")),
        // No prefix: the SOAP namespace the default.
        (
            format!(
                r#"<Envelope xmlns="{SOAP_ENV_NS}"><Header><SessionHeader><sessionId>d</sessionId></SessionHeader></Header><Body><q/></Body></Envelope>"#
            ),
            Some("d"),
        ),
        // A second Header: the session is the first's; both lose theirs.
        (
            envelope(
                "<se:Header><h/></se:Header><se:Header><SessionHeader><sessionId>second</sessionId></SessionHeader></se:Header>",
            ),
            None,
        ),
        (
            envelope(
                "<se:Header><SessionHeader><sessionId>first</sessionId></SessionHeader></se:Header><se:Header><SessionHeader><sessionId>second</sessionId></SessionHeader></se:Header>",
            ),
            Some("first"),
        ),
        // A Header after the Body.
        (
            format!(
                r#"<se:Envelope xmlns:se="{SOAP_ENV_NS}"><se:Body><q/></se:Body><se:Header><SessionHeader><sessionId>late</sessionId></SessionHeader></se:Header></se:Envelope>"#
            ),
            Some("late"),
        ),
        // Namespaced sessionId, in any namespace, and a default one.
        (
            envelope(
                r#"<se:Header><p:SessionHeader xmlns:p="urn:x"><p:sessionId>ns</p:sessionId></p:SessionHeader></se:Header>"#,
            ),
            Some("ns"),
        ),
        (
            envelope(
                r#"<se:Header xmlns="urn:y"><SessionHeader><sessionId>dflt</sessionId></SessionHeader></se:Header>"#,
            ),
            Some("dflt"),
        ),
        // A sessionId outside a SessionHeader still is the session.
        (
            envelope("<se:Header><x><sessionId>bare</sessionId></x></se:Header>"),
            Some("bare"),
        ),
        // Self-closing Headers, with space and attributes.
        (envelope("<se:Header/>"), None),
        (envelope("<se:Header />"), None),
        (envelope(r#"<se:Header   mustUnderstand="0"  />"#), None),
        // Whitespace: around the session, in tags, between elements.
        (envelope(&session(" \n\t tok \t\n")), Some(" \n\t tok \t\n")),
        (
            format!(
                "\n\n<se:Envelope\n xmlns:se = '{SOAP_ENV_NS}' >\n <se:Header\t>\n  <SessionHeader >\n<sessionId\n>w</sessionId\n>\n</SessionHeader>\n </se:Header >\n <se:Body\n>\n<q/>\n</se:Body>\n</se:Envelope >\n\n"
            ),
            Some("w"),
        ),
        // The session's first text only; an empty one.
        (envelope(&session("a<i>b</i>c")), Some("a")),
        (envelope(&session("<i>b</i>c")), Some("")),
        (envelope(&session("")), Some("")),
        (
            envelope("<se:Header><SessionHeader><sessionId/></SessionHeader></se:Header>"),
            Some(""),
        ),
        // Nested SessionHeaders go with the outer one.
        (
            envelope(
                "<se:Header><SessionHeader><SessionHeader><sessionId>in</sessionId></SessionHeader></SessionHeader><SessionHeader/></se:Header>",
            ),
            Some("in"),
        ),
        // An empty Body: no operation, still prepared.
        (
            format!(r#"<se:Envelope xmlns:se="{SOAP_ENV_NS}"><se:Body/></se:Envelope>"#),
            None,
        ),
    ];
    for (xml, session) in cases {
        let read = read_alike(Api::SoapPartner, &xml);
        assert_eq!(read.session.as_deref(), session, "{xml}");
    }
}

/// Envelopes the plain reader leaves to the tree: what the tree says of
/// them is what the front door says, as before the plain reader.
#[test]
fn what_is_not_a_plain_envelope_is_left_to_the_tree() {
    let with_session = GET_USER_INFO_WITH_SESSION;
    let tree_reads = [
        // Logins (the front door reads them from the tree), from every
        // client: simple-salesforce's and the seed's declaration has a
        // space before `?>`.
        format!(r#"<se:Envelope xmlns:se="{SOAP_ENV_NS}"><se:Body><login xmlns="urn:partner.soap.sforce.com"><username>t</username><password>k</password></login></se:Body></se:Envelope>"#),
        format!("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<env:Envelope xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:env=\"{SOAP_ENV_NS}\" xmlns:urn=\"urn:partner.soap.sforce.com\">\n    <env:Header>\n        <urn:CallOptions>\n            <urn:client>simple-salesforce</urn:client>\n            <urn:defaultNamespace>sf</urn:defaultNamespace>\n        </urn:CallOptions>\n    </env:Header>\n    <env:Body>\n        <n1:login xmlns:n1=\"urn:partner.soap.sforce.com\">\n            <n1:username>u</n1:username>\n            <n1:password>p</n1:password>\n        </n1:login>\n    </env:Body>\n</env:Envelope>"),
        // No Body; SOAP 1.2; another root.
        format!(r#"<se:Envelope xmlns:se="{SOAP_ENV_NS}"><se:Header/></se:Envelope>"#),
        r#"<se:Envelope xmlns:se="http://www.w3.org/2003/05/soap-envelope"><se:Body/></se:Envelope>"#.into(),
        "<a/>".into(),
        // CRLF, a comment, CDATA, a BOM, a processing instruction, another
        // declaration.
        with_session.replace('\n', "\r\n"),
        with_session.replace("<soapenv:Body>", "<!-- c --><soapenv:Body>"),
        with_session.replace("PLUGIN-WROTE-THIS", "<![CDATA[x]]>"),
        format!("\u{FEFF}{with_session}"),
        with_session.replace("<soapenv:Body>", "<?pi x?><soapenv:Body>"),
        with_session.replace("encoding=\"utf-8\"", "encoding=\"UTF-8\" standalone=\"yes\""),
        // A non-ASCII name; a reference in a namespace; a tab in an
        // attribute (normalised by the tree).
        with_session.replace("urn:getUserInfo", "urn:getUserInfö"),
        with_session.replace("urn:sobject", "urn:s&#111;bject"),
        // A reference with nine digits (the tree reads it).
        with_session.replace("PLUGIN", "&#x000000041;"),
        with_session.replace("<soapenv:Body>", "<soapenv:Body a=\"\t\">"),
        // Over the plain reader's size.
        with_session.replace("PLUGIN", &"x".repeat(xml::plain::MAX_BODY)),
    ];
    for xml in &tree_reads {
        assert_eq!(by_plain(Api::SoapPartner, xml.as_bytes()), None, "{xml}");
        assert!(by_tree(Api::SoapPartner, xml.as_bytes()).is_some(), "{xml}");
    }
    // What neither reads.
    for xml in ["", "<se:Envelope", "not xml"] {
        assert_eq!(by_plain(Api::SoapPartner, xml.as_bytes()), None, "{xml}");
        assert_eq!(by_tree(Api::SoapPartner, xml.as_bytes()), None, "{xml}");
    }
    // Not a SOAP API.
    assert_eq!(
        by_plain(Api::Rest, GET_USER_INFO_NO_HEADER.as_bytes()),
        None
    );
}

/// Every envelope the plain reader reads, the tree reads the same: each of
/// a few clients' envelopes with a piece of XML put in at every place, and
/// with each byte left out.
#[test]
fn what_the_plain_reader_reads_the_tree_reads_the_same() {
    let pieces = [
        " xmlns=\"http://schemas.xmlsoap.org/soap/envelope/\"",
        " a=\"x>y\"",
        "<Header>",
        "</soapenv:Header>",
        "<soapenv:Header/>",
        "<SessionHeader>",
        "</SessionHeader>",
        "<SessionHeader/>",
        "<sessionId>s</sessionId>",
        "<sessionId/>",
        "<soapenv:Body/>",
        "<login/>",
    ];
    let (mut read, mut left) = (0, 0);
    let mut check = |xml: &[u8]| match by_plain(Api::SoapPartner, xml) {
        Some(plain) => {
            read += 1;
            let text = String::from_utf8_lossy(xml);
            let tree = by_tree(Api::SoapPartner, xml);
            assert!(tree.is_some(), "the tree refuses it: {text}");
            assert_eq!(Some(plain), tree, "{text}");
        }
        None => left += 1,
    };
    let envelopes = [
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Header><urn:SessionHeader><urn:sessionId>t&amp;k</urn:sessionId></urn:SessionHeader><h/></soapenv:Header><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#
        ),
        JSFORCE_EMPTY_HEADER.into(),
        jsforce(
            "<SessionHeader><sessionId>j</sessionId></SessionHeader>",
            "<query><queryString>q</queryString></query>",
        ),
        format!(
            r#"<se:Envelope xmlns:se="{SOAP_ENV_NS}"><se:Body><q>x</q></se:Body></se:Envelope>"#
        ),
    ];
    for envelope in &envelopes {
        xml::plain::variants::each(envelope, &pieces, &mut check);
    }
    assert!(read > 1000 && left > 1000, "{read} read, {left} left");
}
