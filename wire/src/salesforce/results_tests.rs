//! Tests of `results`: the fields of an answer's results read, and hostile answers bounded.

use twoway_testkit::hostile;

use super::*;

fn field(name: &str, value: Option<&str>) -> Field {
    (name.to_string(), value.map(str::to_string))
}

/// An envelope whose Body holds `body`, the prefixes as Salesforce writes them.
fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:sf="urn:sobject.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Header><LimitInfoHeader><limitInfo><current>1</current></limitInfo></LimitInfoHeader></soapenv:Header><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"#
    )
}

#[test]
fn reads_fields_in_document_order_with_nil_and_entities() {
    let xml = envelope(
        "<getUserInfoResponse><result><organizationId>00D5g000004AcmeAAA</organizationId>\
         <roleId xsi:nil=\"true\"/><userName>a&amp;b</userName><empty/>\
         <cdata>x<![CDATA[<y>]]>z</cdata></result></getUserInfoResponse>",
    );
    assert_eq!(
        results(xml.as_bytes()).unwrap().unpacked(),
        vec![vec![
            field("organizationId", Some("00D5g000004AcmeAAA")),
            field("roleId", None),
            field("userName", Some("a&b")),
            field("empty", Some("")),
            field("cdata", Some("x<y>z")),
        ]]
    );
}

#[test]
fn the_fields_are_one_text_and_ranges_in_it() {
    let xml = envelope(
        "<createResponse><result><id>001A</id><e xsi:nil=\"true\"/><n>a&lt;b</n></result>\
         <result/><result><x/></result></createResponse>",
    );
    let read = results(xml.as_bytes()).unwrap();
    assert_eq!(read.text, "id001Aena<bx");
    assert_eq!(
        read.fields,
        vec![
            (0..2, Some(2..6)),
            (6..7, None),
            (7..8, Some(8..11)),
            (11..12, Some(12..12)),
        ]
    );
    // The empty `<result/>` is a result of no fields.
    assert_eq!(read.ends, vec![3, 3, 4]);
    assert_eq!(read.unpacked()[1], Vec::<Field>::new());
}

#[test]
fn names_are_local_in_any_namespace_and_nil_is_the_xsi_attribute() {
    // Other prefixes for the envelope and xsi, the operation in its own
    // namespace; a `nil` attribute outside xsi's namespace is not nil.
    let xml = r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><e:Body><m:listMetadataResponse xmlns:m="http://soap.sforce.com/2006/04/metadata"><m:result><m:fullName>Account</m:fullName><m:id i:nil="true"/><m:type nil="true">CustomObject</m:type></m:result><m:other><m:x>1</m:x></m:other></m:listMetadataResponse></e:Body></e:Envelope>"#;
    assert_eq!(
        results(xml.as_bytes()).unwrap().unpacked(),
        vec![vec![
            field("fullName", Some("Account")),
            field("id", None),
            field("type", Some("CustomObject")),
        ]]
    );
}

#[test]
fn repeated_names_and_several_results_are_kept() {
    let xml = envelope(
        "<retrieveResponse><result><a>1</a><b/><a>2</a></result>\
         <result><a>3</a></result></retrieveResponse>",
    );
    assert_eq!(
        results(xml.as_bytes()).unwrap().unpacked(),
        vec![
            vec![
                field("a", Some("1")),
                field("b", Some("")),
                field("a", Some("2")),
            ],
            vec![field("a", Some("3"))],
        ]
    );
}

#[test]
fn a_nested_result_has_its_children_by_name_and_their_own_text() {
    // A query's result: records are elements with element children; each
    // reads as its own text (empty), as the SDK's `Fields` always did.
    let xml = envelope(
        "<queryResponse><result xsi:type=\"QueryResult\"><done>true</done>\
         <queryLocator xsi:nil=\"true\"/><records xsi:type=\"sf:sObject\"><sf:type>Account</sf:type>\
         <sf:Id>001A</sf:Id><sf:Name>Acme</sf:Name></records><records xsi:type=\"sf:sObject\">\
         <sf:type>Account</sf:type><sf:Id>001B</sf:Id></records><size>2</size></result></queryResponse>",
    );
    assert_eq!(
        results(xml.as_bytes()).unwrap().unpacked(),
        vec![vec![
            field("done", Some("true")),
            field("queryLocator", None),
            field("records", Some("")),
            field("records", Some("")),
            field("size", Some("2")),
        ]]
    );
}

#[test]
fn an_answer_without_results_reads_as_none() {
    let fault = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>x</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
    for xml in [
        fault.to_string(),
        envelope(""),
        envelope("<deleteResponse/>"),
        "<notSoap><result><a>1</a></result></notSoap>".to_string(),
    ] {
        assert_eq!(
            results(xml.as_bytes()).unwrap().unpacked(),
            Vec::<Vec<Field>>::new(),
            "{xml}"
        );
        assert_eq!(save_results(xml.as_bytes()).unwrap(), vec![], "{xml}");
    }
}

#[test]
fn reads_save_results_with_their_errors() {
    let xml = envelope(
        "<upsertResponse><result><created>true</created><id>00Q000000000001AAA</id>\
         <success>true</success></result><result><errors><fields>LastName</fields>\
         <fields>Company</fields><message>Required fields are missing: [LastName, Company]</message>\
         <statusCode>REQUIRED_FIELD_MISSING</statusCode></errors><errors><message>second</message>\
         </errors><id xsi:nil=\"true\"/><success>false</success></result>\
         <result><id></id><success>false</success></result></upsertResponse>",
    );
    assert_eq!(
        save_results(xml.as_bytes()).unwrap(),
        vec![
            SaveResult {
                id: Some("00Q000000000001AAA".into()),
                success: true,
                created: Some(true),
                errors: vec![],
            },
            SaveResult {
                id: None,
                success: false,
                created: None,
                errors: vec![
                    SaveError {
                        status_code: "REQUIRED_FIELD_MISSING".into(),
                        message: "Required fields are missing: [LastName, Company]".into(),
                        fields: vec!["LastName".into(), "Company".into()],
                    },
                    SaveError {
                        status_code: String::new(),
                        message: "second".into(),
                        fields: vec![],
                    },
                ],
            },
            SaveResult {
                id: None,
                success: false,
                created: None,
                errors: vec![],
            },
        ]
    );
}

#[test]
fn refuses_doctype_and_what_is_not_xml() {
    let doctype = r#"<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>"#;
    let e = results(doctype.as_bytes()).unwrap_err();
    assert_eq!(e, ResultsError::Unreadable(XmlError::Doctype));
    assert!(e.to_string().contains("DOCTYPE is disallowed"), "{e}");
    for bad in [&b""[..], b"<a><b></a>", b"<html>oops", b"\xff\xfe<a/>"] {
        let e = save_results(bad).unwrap_err();
        assert!(matches!(e, ResultsError::Unreadable(_)), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("the API answered with XML that cannot be read: "),
            "{e}"
        );
    }
}

#[test]
fn an_answer_over_the_caps_is_refused_unread_and_says_which() {
    let deep = crate::xml::MAX_DEPTH + 1;
    let long = "n".repeat(crate::xml::MAX_NAME + 1);
    for xml in [
        envelope(&format!("{}{}", "<d>".repeat(deep), "</d>".repeat(deep))),
        hostile::attribute_heavy_envelope(),
        hostile::namespace_heavy_envelope(),
        envelope(&format!("<{long}/>")),
    ] {
        let e = results(xml.as_bytes()).unwrap_err();
        let ResultsError::Refused(cause) = &e else {
            panic!("{e:?}");
        };
        assert!(cause.is_over_limits(), "{cause:?}");
        assert!(
            e.to_string()
                .starts_with("the SOAP answer was refused unread: "),
            "{e}"
        );
    }
    let many = envelope(&format!("<r>{}</r>", "<e/>".repeat(MAX_NODES as usize)));
    let e = results(many.as_bytes()).unwrap_err();
    assert_eq!(e, ResultsError::TooManyNodes);
    assert!(e.to_string().contains("fewer records a call"), "{e}");
}

/// Answers as Salesforce (and the simulator) write them: a getUserInfo with
/// its LimitInfoHeader, a query with records in another prefix, a metadata
/// answer declaring its namespace on the operation, entities and character
/// references, several results and an empty one.
fn plain_answers() -> Vec<String> {
    vec![
        envelope(
            "<getUserInfoResponse><result><accessibilityMode>false</accessibilityMode>\
             <currencySymbol>$</currencySymbol><orgDefaultCurrencyIsoCode>USD</orgDefaultCurrencyIsoCode>\
             <organizationId>00D5g000004AcmeAAA</organizationId><organizationName>Acme &amp; Co &#x2014; &#233;t&#xE9;</organizationName>\
             <roleId xsi:nil=\"true\"/><userEmail>a@b.example</userEmail><userFullName>Ann &lt;Admin&gt; &quot;O&apos;Neil&quot;</userFullName>\
             <userName>integration@acme.example</userName><userTimeZone>America/Los_Angeles</userTimeZone>\
             <userType>Standard</userType><userUiSkin>Theme3</userUiSkin></result></getUserInfoResponse>",
        ),
        envelope(
            "<queryResponse><result xsi:type=\"QueryResult\"><done>true</done>\
             <queryLocator xsi:nil=\"true\"/><records xsi:type=\"sf:sObject\"><sf:type>Account</sf:type>\
             <sf:Id>001A</sf:Id>text<sf:Name>Acme</sf:Name> after</records><size>1</size></result></queryResponse>",
        ),
        r#"<?xml version="1.0"?>
<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
  <e:Body>
    <m:listMetadataResponse xmlns:m="http://soap.sforce.com/2006/04/metadata">
      <m:result><m:fullName>Account</m:fullName><m:id i:nil='true' /><m:type nil="true">CustomObject</m:type></m:result>
      <m:result/>
      <m:result><m:x i:nil="tru&#101;"/><m:y i:nil="false">	tab</m:y></m:result>
      <m:other><m:x>1</m:x></m:other>
    </m:listMetadataResponse>
  </e:Body>
</e:Envelope>
"#
        .to_string(),
    ]
}

#[test]
fn the_plain_reader_reads_salesforces_answers_as_the_tree_does() {
    for xml in plain_answers() {
        let plain = plain::results(xml.as_bytes());
        assert!(plain.is_some(), "read without a tree: {xml}");
        assert_eq!(
            plain,
            Some(results_by_tree(xml.as_bytes()).unwrap()),
            "{xml}"
        );
    }
    let read = results(plain_answers()[2].as_bytes()).unwrap().unpacked();
    assert_eq!(
        read,
        vec![
            vec![
                field("fullName", Some("Account")),
                field("id", None),
                field("type", Some("CustomObject")),
            ],
            vec![],
            vec![field("x", None), field("y", Some("\ttab"))],
        ]
    );
}

#[test]
fn what_is_not_plain_is_left_to_the_tree() {
    let answer = |body: &str| envelope(&format!("<r><result>{body}</result></r>"));
    let declarations: String = (0..8).map(|i| format!(" xmlns:n{i}=\"u{i}\"")).collect();
    for xml in [
        answer("<a><!-- a comment --></a>"),
        answer("<a><![CDATA[x]]></a>"),
        answer("<a><?pi x?></a>"),
        answer("<a>line\r\n</a>"),
        answer("<a>&nbsp;</a>"),
        answer("<a>&#xD800;</a>"),
        answer("<a>&#0;</a>"),
        answer("<a>]]></a>"),
        answer("<a>\u{1}</a>"),
        answer("<a>\u{FFFE}</a>"),
        answer("<é/>"),
        answer("<q:a/>"),
        answer("<a q:b=\"1\"/>"),
        answer("<a b=\"1\" b=\"2\"/>"),
        answer("<a p:b=\"1\" b=\"2\" xmlns:p=\"u\"/>"),
        answer("<a xmlns:p=\"u\" xmlns:p=\"v\"/>"),
        answer("<a xmlns:p=\"\"/>"),
        answer("<a b=\"x\ny\"/>"),
        answer(&format!("<a{declarations}/>")),
        answer(&format!("{}{}", "<d>".repeat(61), "</d>".repeat(61))),
        answer("<a></b>"),
        answer("<a>"),
        format!("\u{FEFF}{}", answer("")),
        answer("").replacen(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            "<?xml version='1.0'?>",
            1,
        ),
        format!("{}<!-- after -->", answer("")),
        answer(&format!("<a>{}</a>", "x".repeat(plain::MAX_BODY))),
    ] {
        assert_eq!(plain::results(xml.as_bytes()), None, "{xml}");
    }
}

/// Every answer the plain reader reads, the tree reads the same: each of
/// Salesforce's answers with a piece of XML put in at every place, and with
/// each byte left out.
#[test]
fn what_the_plain_reader_reads_the_tree_reads_the_same() {
    let pieces = [
        " xsi:nil=\"true\"",
        " q:nil=\"true\"",
        "<result>",
        "</result>",
        "<Body>",
        "</soapenv:Body>",
    ];
    let (mut read, mut left) = (0, 0);
    let mut check = |xml: &[u8]| match plain::results(xml) {
        Some(plain) => {
            read += 1;
            let tree = results_by_tree(xml);
            assert_eq!(tree, Ok(plain), "{}", String::from_utf8_lossy(xml));
        }
        None => left += 1,
    };
    // Salesforce's shapes in a small answer, to keep the test quick.
    let answer = envelope(
        "<getUserInfoResponse><result><a>x&amp;y</a><roleId xsi:nil=\"true\"/>\
         <records xsi:type=\"sf:sObject\"><sf:Id>1</sf:Id>t</records></result><result/>\
         </getUserInfoResponse>",
    );
    crate::xml::plain::variants::each(&answer, &pieces, &mut check);
    assert!(read > 1000 && left > 1000, "{read} read, {left} left");
}
