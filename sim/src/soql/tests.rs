//! Tests of the SOQL parser: the subset the simulator answers, and malformed queries refused.

use super::*;

fn malformed(text: &str) -> String {
    let e = parse(text).expect_err(text);
    assert_eq!(e.code, "MALFORMED_QUERY", "{text}");
    e.render(text)
}

#[test]
fn parses_what_users_write() {
    let q = parse(
        "select Id, Name, Account.Name, Owner.Email, (SELECT LastName FROM Contacts WHERE Email != null ORDER BY LastName) \
         FROM Account WHERE (Industry IN ('Energy', 'Retail') OR NOT Name LIKE 'a%') AND AnnualRevenue >= 1000.5 \
         AND CreatedDate = LAST_N_DAYS:7 AND CloseDate < 2024-01-01 AND SystemModstamp > 2024-01-01T00:00:00Z \
         ORDER BY Name DESC NULLS LAST, Id LIMIT 10 OFFSET 5",
    )
    .unwrap();
    assert_eq!(q.select.len(), 5);
    assert!(matches!(&q.select[2], SelectItem::Field(p) if p.segments == ["Account", "Name"]));
    let SelectItem::Subquery(sub) = &q.select[4] else {
        panic!("subquery")
    };
    assert_eq!(sub.object.text, "Contacts");
    assert_eq!(sub.order_by.len(), 1);
    assert_eq!(q.object.text, "Account");
    let Some(Expr::And(terms)) = &q.filter else {
        panic!("AND")
    };
    assert_eq!(terms.len(), 5);
    assert!(matches!(&terms[0], Expr::Or(or) if or.len() == 2));
    assert!(
        matches!(&terms[1], Expr::Compare { op: Op::Ge, value: Value::Number(n), .. } if *n == 1000.5)
    );
    assert!(
        matches!(&terms[2], Expr::Compare { value: Value::DateLiteral(name, Some(7)), .. } if name == "LAST_N_DAYS")
    );
    assert_eq!(q.order_by.len(), 2);
    assert!(q.order_by[0].descending && q.order_by[0].nulls_first == Some(false));
    assert_eq!((q.limit, q.offset), (Some(10), Some(5)));
}

#[test]
fn parses_aggregates_and_semi_joins() {
    let q = parse("SELECT Industry, COUNT(Id) n, MAX(AnnualRevenue) FROM Account GROUP BY Industry HAVING COUNT(Id) > 1 ORDER BY COUNT(Id) DESC").unwrap();
    assert!(q.is_aggregate());
    assert!(
        matches!(&q.select[1], SelectItem::Aggregate(a) if a.alias.as_deref() == Some("n") && a.function == Function::Count)
    );
    assert!(q.having.is_some());
    let q = parse(
        "SELECT COUNT() FROM Contact WHERE AccountId IN (SELECT Id FROM Account WHERE Name = 'x')",
    )
    .unwrap();
    assert!(matches!(
        &q.filter,
        Some(Expr::In {
            values: InValues::Select(_),
            negated: false,
            ..
        })
    ));
    let q = parse("SELECT FIELDS(ALL) FROM Account LIMIT 200").unwrap();
    assert!(matches!(q.select[0], SelectItem::Fields(FieldSet::All, _)));
    let q = parse("SELECT Id FROM Lead WHERE Tags__c INCLUDES ('a;b', 'c') AND Id NOT IN ('00Q1')")
        .unwrap();
    assert!(
        matches!(&q.filter, Some(Expr::And(t)) if matches!(&t[0], Expr::Includes { values, .. } if values == &["a;b", "c"]))
    );
}

#[test]
fn errors_point_at_the_token_as_salesforce_does() {
    assert_eq!(
        malformed("SELECT Id FORM Account"),
        "\nSELECT Id FORM Account\n          ^\nERROR at Row:1:Column:11\nunexpected token: 'FORM'"
    );
    assert_eq!(
        malformed("SELECT FROM Account"),
        "\nSELECT FROM Account\n       ^\nERROR at Row:1:Column:8\nunexpected token: 'FROM'"
    );
    assert!(
        malformed("SELECT Id FROM").ends_with("ERROR at Row:1:Column:15\nunexpected token: <EOF>")
    );
    // The row and column of a multi-line query.
    assert_eq!(
        malformed("SELECT Id\nFROM Account\nWHERE Name = 'x' AND"),
        "\nWHERE Name = 'x' AND\n                    ^\nERROR at Row:3:Column:21\nunexpected token: <EOF>"
    );
    // AND and OR cannot mix without parentheses.
    assert!(
        malformed("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'")
            .ends_with("unexpected token: 'OR'")
    );
    assert!(
        malformed(r"SELECT Id FROM Account WHERE Name = 'a\d'")
            .contains(r"Illegal character sequence '\d'")
    );
    for bad in [
        "",
        "SELECT Id FROM Account WHERE",
        "SELECT Id FROM Account WHERE Name = 'open",
        "SELECT Id FROM Account WHERE Name ! 'x'",
        "SELECT Id FROM Account WHERE Name LIKE x",
        "SELECT Id FROM Account LIMIT x",
        "SELECT Id FROM Account LIMIT -1",
        "SELECT Id FROM Account ORDER Name",
        "SELECT Id FROM Account WHERE CreatedDate = 2024-02-30",
        "SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS",
        "SELECT Id, (SELECT Id, (SELECT Id FROM Cases) FROM Contacts) FROM Account",
        "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact WHERE Id IN (SELECT ContactId FROM Case))",
        "SELECT SUM() FROM Account",
        "SELECT Id FROM Account extra words",
        "SELECT Account..Name FROM Contact",
    ] {
        malformed(bad);
    }
}

#[test]
fn nesting_and_length_are_bounded() {
    let deep = format!(
        "SELECT Id FROM Account WHERE {}Name = 'x'{}",
        "(".repeat(40),
        ")".repeat(40)
    );
    assert!(malformed(&deep).contains("nest deeper than 32"));
    let fine = format!(
        "SELECT Id FROM Account WHERE {}Name = 'x'{}",
        "(".repeat(20),
        ")".repeat(20)
    );
    assert!(parse(&fine).is_ok());
    let long = format!(
        "SELECT Id FROM Account WHERE Name = '{}'",
        "x".repeat(MAX_QUERY_CHARS)
    );
    assert!(malformed(&long).contains("cannot be longer than 100000"));
}
