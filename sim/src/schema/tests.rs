//! Tests of the schema: the standard objects, declared objects and fields merged in, problems named.

use super::*;

fn decls(toml_text: &str) -> Vec<ObjectDecl> {
    #[derive(Deserialize)]
    struct Doc {
        object: Vec<ObjectDecl>,
    }
    toml::from_str::<Doc>(toml_text).unwrap().object
}

#[test]
fn standard_objects_carry_their_relationships() {
    let schema = Schema::build(&[]).unwrap();
    let contact = schema.object("contact").unwrap();
    assert_eq!(contact.key_prefix, "003");
    let account_id = contact.field("AccountId").unwrap();
    assert_eq!(account_id.kind, FieldType::Reference);
    assert_eq!(account_id.relationship_name.as_deref(), Some("Account"));
    assert!(contact.field("LastName").unwrap().required());
    assert!(!contact.field("Name").unwrap().createable);
    let account = schema.object("Account").unwrap();
    let children: Vec<&str> = account.children.iter().map(|c| c.name.as_str()).collect();
    for name in ["Contacts", "Opportunities", "Cases", "ChildAccounts"] {
        assert!(children.contains(&name), "{name} in {children:?}");
    }
    assert_eq!(
        schema.object_of_id("006000000000001AAA").unwrap().name,
        "Opportunity"
    );
    for name in ["Account", "Contact", "Lead", "Opportunity", "Case", "User"] {
        let o = schema.object(name).unwrap();
        assert!(
            o.field("Id").is_some() && o.field("CreatedDate").is_some(),
            "{name}"
        );
    }
}

#[test]
fn declared_objects_and_fields_merge_in() {
    let schema = Schema::build(&decls(
        r#"
[[object]]
name = "Account"
fields = ["External_Id__c", "Name"]
external_ids = ["External_Id__c"]

[[object]]
name = "Invoice__c"
key_prefix = "a01"
fields = [
  { name = "Number__c", external_id = true, length = 20 },
  { name = "Amount__c", type = "currency" },
  { name = "Account__c", type = "reference", reference_to = "Account", child_relationship = "Invoices__r" },
]
required = ["Amount__c"]
"#,
    ))
    .unwrap();
    let account = schema.object("Account").unwrap();
    assert!(account.field("External_Id__c").unwrap().external_id);
    assert!(account.child("Invoices__r").is_some());
    let invoice = schema.object("Invoice__c").unwrap();
    assert!(invoice.custom);
    assert_eq!(invoice.label, "Invoice");
    assert_eq!(
        invoice.field("Amount__c").unwrap().kind,
        FieldType::Currency
    );
    assert!(invoice.field("Amount__c").unwrap().required());
    assert_eq!(invoice.field("Number__c").unwrap().length, 20);
    assert_eq!(
        invoice.relationship("Account__r").unwrap().name,
        "Account__c"
    );
    assert!(invoice.field("Name").is_some() && invoice.field("OwnerId").is_some());
}

#[test]
fn problems_are_named() {
    let problems = Schema::build(&decls(
        r#"
[[object]]
name = "Widget__c"
key_prefix = "w"
fields = [{ name = "Thing__c", type = "reference", reference_to = "Nothing__c" }]
required = ["Ghost__c"]

[[object]]
name = "Gadget__c"
key_prefix = "001"
"#,
    ))
    .unwrap_err()
    .join("; ");
    assert!(
        problems.contains("object[0].key_prefix = \"w\""),
        "{problems}"
    );
    assert!(
        problems.contains("object[0].required: \"Ghost__c\" is not one of its fields"),
        "{problems}"
    );
    assert!(problems.contains("refers to \"Nothing__c\""), "{problems}");
    assert!(problems.contains("already Account's"), "{problems}");
}
