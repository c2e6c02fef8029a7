//! Unit tests of the bounded parse: each cap just over (refused with its
//! variant) and just under (accepted), and markup hidden where it is not markup.

use super::*;
use twoway_testkit::hostile;

#[test]
fn refuses_doctype_and_entities() {
    let evil = br#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>"#;
    assert_eq!(parse(evil).unwrap_err(), XmlError::Doctype);
}

#[test]
fn empty_body_is_premature_end_of_file() {
    assert_eq!(
        parse(b"  ").unwrap_err().to_string(),
        "Premature end of file."
    );
}

#[test]
fn caps_node_count() {
    let many = format!("<a>{}</a>", "<b/>".repeat(MAX_NODES as usize + 1));
    assert_eq!(parse(many.as_bytes()).unwrap_err(), XmlError::TooManyNodes);
}

#[test]
fn finds_body_operation_by_namespace() {
    let doc = br#"<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header/><se:Body><login xmlns="urn:partner.soap.sforce.com"><username>u</username></login></se:Body></se:Envelope>"#;
    let doc = parse(doc).unwrap();
    let op = soap_body_element(&doc).unwrap();
    assert_eq!(op.tag_name().name(), "login");
    assert_eq!(
        op.tag_name().namespace(),
        Some("urn:partner.soap.sforce.com")
    );
    assert_eq!(child_text(op, "username"), Some("u"));
}

#[test]
fn escapes_markup() {
    assert_eq!(escape("a<b & 'c'"), "a&lt;b &amp; &apos;c&apos;");
    assert!(matches!(escape("plain"), Cow::Borrowed(_)));
    // Each of the five found by the searches anywhere in a longer text.
    let long = "x".repeat(40);
    for (c, entity) in [
        ("<", "&lt;"),
        (">", "&gt;"),
        ("&", "&amp;"),
        ("\"", "&quot;"),
        ("'", "&apos;"),
    ] {
        for text in [
            format!("{c}{long}"),
            format!("{long}{c}{long}"),
            format!("{long}{c}"),
        ] {
            assert_eq!(escape(&text), text.replace(c, entity), "{text}");
        }
    }
}

fn attrs(n: usize) -> String {
    (0..n).map(|i| format!(" a{i}=\"v\"")).collect()
}

fn decls(n: usize, prefix: &str) -> String {
    (0..n)
        .map(|i| format!(" xmlns:{prefix}{i}=\"urn:{i}\""))
        .collect()
}

fn refused(doc: &str) -> XmlError {
    parse(doc.as_bytes()).expect_err("refused")
}

fn accepted(doc: &str) {
    if let Err(e) = parse(doc.as_bytes()) {
        panic!("refused: {e}");
    }
}

#[test]
fn caps_depth() {
    let nest = |n: usize| format!("{}{}", "<d>".repeat(n), "</d>".repeat(n));
    accepted(&nest(MAX_DEPTH));
    let e = refused(&nest(MAX_DEPTH + 1));
    assert_eq!(
        e,
        XmlError::TooDeep {
            element: "d".into(),
            line: 1
        }
    );
    // An empty element counts too.
    let empty = format!(
        "{}<x/>{}",
        "<d>".repeat(MAX_DEPTH),
        "</d>".repeat(MAX_DEPTH)
    );
    assert!(matches!(refused(&empty), XmlError::TooDeep { element, .. } if element == "x"));
}

#[test]
fn caps_attributes_per_element() {
    accepted(&format!("<r{}/>", attrs(MAX_ATTRIBUTES)));
    // Namespace declarations do not count as attributes.
    accepted(&format!("<r{}{}/>", attrs(MAX_ATTRIBUTES), decls(3, "p")));
    let e = refused(&format!("<r>\n\n<big{}/></r>", attrs(MAX_ATTRIBUTES + 1)));
    assert_eq!(
        e,
        XmlError::TooManyAttributes {
            element: "big".into(),
            line: 3
        }
    );
    let text = e.to_string();
    assert!(text.contains("`big`") && text.contains("line 3"), "{text}");
    assert!(text.contains(&MAX_ATTRIBUTES.to_string()), "{text}");
}

#[test]
fn caps_attributes_per_document() {
    let per = MAX_ATTRIBUTES;
    let doc = |total: usize| {
        let mut s = String::from("<r>");
        let mut left = total;
        while left > 0 {
            let n = left.min(per);
            s.push_str(&format!("<e{}/>", attrs(n)));
            left -= n;
        }
        s.push_str("</r>");
        s
    };
    accepted(&doc(MAX_DOCUMENT_ATTRIBUTES));
    assert!(matches!(
        refused(&doc(MAX_DOCUMENT_ATTRIBUTES + 1)),
        XmlError::TooManyDocumentAttributes { element, .. } if element == "e"
    ));
}

#[test]
fn caps_namespace_declarations_per_element() {
    accepted(&format!("<r{}/>", decls(MAX_NAMESPACE_DECLARATIONS, "p")));
    // The default namespace counts too.
    let e = refused(&format!(
        "<r xmlns=\"urn:d\"{}/>",
        decls(MAX_NAMESPACE_DECLARATIONS, "p")
    ));
    assert_eq!(
        e,
        XmlError::TooManyNamespaceDeclarations {
            element: "r".into(),
            line: 1
        }
    );
}

#[test]
fn caps_namespaces_in_scope() {
    let half = MAX_NAMESPACES_IN_SCOPE / 2;
    let under = format!(
        "<r{}><c{}><g/></c></r>",
        decls(half, "p"),
        decls(MAX_NAMESPACES_IN_SCOPE - half, "q")
    );
    accepted(&under);
    let over = format!(
        "<r{}><c{}><g xmlns:z=\"urn:z\"/></c></r>",
        decls(half, "p"),
        decls(MAX_NAMESPACES_IN_SCOPE - half, "q")
    );
    assert_eq!(
        refused(&over),
        XmlError::TooManyNamespacesInScope {
            element: "g".into(),
            line: 1
        }
    );
    // Scope ends with the element: siblings do not add up.
    let siblings = format!(
        "<r{}><c{}/><c{}/><c{}/></r>",
        decls(half, "p"),
        decls(half, "q"),
        decls(half, "q"),
        decls(half, "q")
    );
    accepted(&siblings);
}

#[test]
fn caps_namespace_declarations_per_document() {
    let doc = |n: usize| format!("<r>{}</r>", "<e xmlns:a=\"urn:a\"/>".repeat(n));
    accepted(&doc(MAX_DOCUMENT_NAMESPACES));
    assert!(matches!(
        refused(&doc(MAX_DOCUMENT_NAMESPACES + 1)),
        XmlError::TooManyDocumentNamespaces { element, .. } if element == "e"
    ));
}

#[test]
fn caps_namespace_work() {
    // 100 in scope (14,096 steps), then children re-declaring one each:
    // 10,201 steps per child against a budget of 65,536 (the minimum).
    let doc = |children: usize| {
        format!(
            "<r{}><c{}>{}</c></r>",
            decls(64, "p"),
            decls(36, "q"),
            "<e xmlns:z=\"urn:z\"/>".repeat(children)
        )
    };
    accepted(&doc(5));
    assert!(matches!(refused(&doc(6)), XmlError::NamespaceWork { .. }));
    assert!(matches!(
        refused(&doc(10)),
        XmlError::NamespaceWork { element, .. } if element == "e"
    ));
    // The case reported: 3,000 on the root and 1,000 children with one more.
    let reported = format!(
        "<r{}>{}</r>",
        decls(3000, "p"),
        (0..1000)
            .map(|i| format!("<e xmlns:q{i}=\"urn:q\"/>"))
            .collect::<String>()
    );
    assert!(matches!(
        refused(&reported),
        XmlError::TooManyNamespaceDeclarations { element, .. } if element == "r"
    ));
}

#[test]
fn caps_name_lengths() {
    let ok = "n".repeat(MAX_NAME);
    let long = "n".repeat(MAX_NAME + 1);
    accepted(&format!(
        "<{ok} {ok}=\"v\" xmlns:{}=\"urn:x\"></{ok}>",
        &ok[6..]
    ));
    for doc in [
        format!("<{long}/>"),
        format!("<r {long}=\"v\"/>"),
        format!("<r xmlns:{long}=\"urn:x\"/>"),
        format!("<r></{long}>"),
    ] {
        let e = refused(&doc);
        let XmlError::NameTooLong { name, line } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(*line, 1);
        assert!(name.len() < 80, "names in errors are cut: {name}");
    }
}

#[test]
fn caps_attribute_values() {
    let ok = "v".repeat(MAX_ATTRIBUTE_VALUE);
    accepted(&format!("<r a=\"{ok}\"/>"));
    let e = refused(&format!("<r>\n<e a='{ok}v'/></r>"));
    assert_eq!(
        e,
        XmlError::AttributeValueTooLong {
            element: "e".into(),
            line: 2
        }
    );
    assert!(!e.to_string().contains("vvv"), "no value in the message");
}

#[test]
fn quoted_gt_comments_cdata_and_pis_hide_no_markup() {
    // What looks like attributes inside a value, a comment, CDATA or a
    // processing instruction is not counted...
    let fake = format!("<e{}{}>", attrs(MAX_ATTRIBUTES + 1), decls(70, "f"));
    // `<` may not appear in a value; `>` and quotes of the other kind may.
    let quoted_fake = fake.replace('"', "'").replace('<', "");
    accepted(&format!(
        "<?xml version=\"1.0\"?><!-- {fake} --><r x=\"1>2 {quoted_fake}\" y='>'>\
         <![CDATA[{fake}]]><?pi {fake} ?>text &lt;e a=\"1\"&gt;</r>"
    ));
    let doc = parse(b"<r x=\"a>b\"><c/></r>").unwrap();
    assert_eq!(doc.root_element().attribute("x"), Some("a>b"));
    // ...and what follows them is.
    let over = format!("<e{}/>", attrs(MAX_ATTRIBUTES + 1));
    for doc in [
        format!("<r x='-->'>{over}</r>"),
        format!("<r x=\"]]>\">{over}</r>"),
        format!("<r><!-- <a x=\" -->{over}</r>"),
        format!("<r><![CDATA[ <a x=\" ]]>{over}</r>"),
        format!("<r><?pi x=\"?>{over}</r>"),
        format!("<r>--> ?> ]]&gt; {over}</r>"),
    ] {
        assert!(
            matches!(refused(&doc), XmlError::TooManyAttributes { .. }),
            "{doc}"
        );
    }
}

#[test]
fn unreadable_markup_is_refused_before_parsing() {
    for (doc, what) in [
        ("<r><!-- open</r>", "unterminated comment"),
        ("<r><![CDATA[ open</r>", "unterminated CDATA"),
        ("<r><?pi open</r>", "unterminated processing instruction"),
        ("<r a=\"open/>", "unterminated attribute value"),
        ("<r a=v/>", "without quotes"),
        ("<r a/>", "without `=`"),
        ("<r><!ELEMENT r ANY></r>", "`<!` declaration"),
        ("<r>\n< r/></r>", "starts no tag"),
        ("</r>", "end tag without a start tag"),
    ] {
        match refused(doc) {
            XmlError::Malformed(m) => assert!(m.contains(what), "{doc}: {m}"),
            other => panic!("{doc}: {other:?}"),
        }
    }
}

#[test]
fn over_limits_is_only_the_work_caps() {
    assert!(
        XmlError::TooDeep {
            element: "x".into(),
            line: 1
        }
        .is_over_limits()
    );
    assert!(!XmlError::TooManyNodes.is_over_limits());
    assert!(!XmlError::Malformed("x".into()).is_over_limits());
    assert!(!XmlError::Doctype.is_over_limits());
}

#[test]
fn node_count_stops_where_the_parser_would() {
    // Past the node cap nothing is checked: large answers are regular.
    let mut doc = format!("<r>{}", "<b/>".repeat(MAX_NODES as usize));
    doc.push_str(&format!("<e{}/></r>", attrs(MAX_ATTRIBUTES + 1)));
    assert_eq!(refused(&doc), XmlError::TooManyNodes);
}

#[test]
fn the_issue_envelopes_are_refused_and_the_worst_accepted_shapes_pass() {
    assert!(matches!(
        refused(&hostile::namespace_heavy_envelope()),
        XmlError::TooManyNamespaceDeclarations { element, line: 1 } if element == "soapenv:Envelope"
    ));
    assert!(matches!(
        refused(&hostile::attribute_heavy_envelope()),
        XmlError::TooManyAttributes { element, line: 1 } if element == "getUserInfo"
    ));
    for (name, doc) in [
        ("attributes", hostile::attributes_at_caps()),
        ("namespaces", hostile::namespaces_at_caps()),
        ("redeclared", hostile::namespaces_redeclared()),
        ("deep", hostile::deep_at_caps()),
        ("long names", hostile::long_names(256 * 1024)),
        ("many elements", hostile::many_elements()),
        ("query", hostile::query_response(256 * 1024)),
    ] {
        if let Err(e) = parse(doc.as_bytes()) {
            panic!("{name}: {e}");
        }
    }
}

#[test]
fn outlines_the_top_levels_with_their_namespaces() {
    let text = r#"<?xml version="1.0"?><se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:a"><se:Header/><se:Body><op xmlns:x="urn:x"><x:deep><y/></x:deep></op><xml:z/></se:Body></se:Envelope>"#;
    let outline = outline(text.as_bytes()).unwrap();
    assert!(outline.sound());
    let root = *outline.root().unwrap();
    assert!(root.is(SOAP_ENV, "Envelope"));
    assert_eq!(
        &text[root.start..root.start_end],
        &text[21..text.find("><se:H").unwrap() + 1]
    );
    let children: Vec<_> = outline
        .children(&root)
        .map(|e| (e.qname, e.empty))
        .collect();
    assert_eq!(children, [("se:Header", true), ("se:Body", false)]);
    let body = *outline.children(&root).nth(1).unwrap();
    let ops: Vec<_> = outline
        .children(&body)
        .map(|e| (e.local, e.namespace))
        .collect();
    assert_eq!(
        ops,
        [
            ("op", Some("urn:a")),
            ("z", Some("http://www.w3.org/XML/1998/namespace"))
        ]
    );
}

#[test]
fn an_outline_vouches_only_for_sound_structure() {
    let env = r#"xmlns:s="http://schemas.xmlsoap.org/soap/envelope/""#;
    for unsound in [
        format!(r#"<s:Envelope {env}><s:Body><a></b></s:Body></s:Envelope>"#),
        format!(r#"<s:Envelope {env}><s:Body/></s:Envelope><again/>"#),
        format!(r#"<s:Envelope {env}><p:Body/></s:Envelope>"#),
        format!(r#"<s:Envelope {env}><s:Body>"#),
        format!(r#"<s:Envelope {env}><s:Body/></s:Envelope> text"#),
        format!("<s:Envelope {env}>{}</s:Envelope>", "<s:Body/>".repeat(64)),
    ] {
        let outline = outline(unsound.as_bytes()).unwrap();
        assert!(!outline.sound(), "{unsound}");
    }
    // Declarations go out of scope with their element.
    let scoped = r#"<e xmlns:p="urn:p"><a xmlns:q="urn:q"/><q:b/></e>"#;
    assert!(!outline(scoped.as_bytes()).unwrap().sound());
    // The same refusals as parse, from the same pass.
    assert_eq!(outline(b"  ").unwrap_err(), XmlError::Empty);
    assert_eq!(outline(b"\xff<a/>").unwrap_err(), XmlError::NotUtf8);
    let deep = format!(
        "{}{}",
        "<a>".repeat(MAX_DEPTH + 1),
        "</a>".repeat(MAX_DEPTH + 1)
    );
    assert!(matches!(
        outline(deep.as_bytes()),
        Err(XmlError::TooDeep { .. })
    ));
}
