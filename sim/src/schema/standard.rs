//! The standard objects' fields as Salesforce describes them (a subset of
//! each: the fields integrations use), the system fields every object has,
//! and the fields of declared custom objects.

use super::{Field, FieldDecl, FieldType, Object, ObjectDecl};
use FieldType as T;

fn field(name: &str, kind: FieldType) -> Field {
    let length = match kind {
        T::String | T::Picklist | T::Url => 255,
        T::Textarea => 32000,
        T::Email => 80,
        T::Phone => 40,
        T::Multipicklist => 4099,
        T::Id | T::Reference => 18,
        _ => 0,
    };
    Field {
        name: name.to_string(),
        label: label_of(name),
        kind,
        length,
        nillable: kind != T::Boolean,
        createable: true,
        updateable: true,
        default: (kind == T::Boolean).then(|| "false".to_string()),
        defaulted_on_create: kind == T::Boolean,
        external_id: false,
        unique: false,
        custom: name.ends_with("__c"),
        reference_to: Vec::new(),
        relationship_name: None,
        child_relationship: None,
        picklist: Vec::new(),
    }
}

impl Field {
    fn len(mut self, length: u32) -> Self {
        self.length = length;
        self
    }

    fn labelled(mut self, label: &str) -> Self {
        self.label = label.to_string();
        self
    }

    fn mandatory(mut self) -> Self {
        self.nillable = false;
        self
    }

    /// Set by Salesforce, never by a caller.
    fn system(mut self) -> Self {
        self.createable = false;
        self.updateable = false;
        self.defaulted_on_create = true;
        self
    }

    fn defaults(mut self, value: &str) -> Self {
        self.default = Some(value.to_string());
        self.defaulted_on_create = true;
        self
    }

    fn refers(mut self, to: &str, relationship: &str, children: Option<&str>) -> Self {
        self.reference_to = vec![to.to_string()];
        self.relationship_name = Some(relationship.to_string());
        self.child_relationship = children.map(str::to_string);
        self
    }

    fn values(mut self, values: &[&str]) -> Self {
        self.picklist = values.iter().map(|v| v.to_string()).collect();
        self
    }
}

/// `BillingCity` → `Billing City`; `Amount__c` → `Amount`; `AccountId` → `Account ID`.
fn label_of(name: &str) -> String {
    let base = name.strip_suffix("__c").unwrap_or(name);
    if base == "Id" {
        return "Record ID".into();
    }
    let base = match base.strip_suffix("Id") {
        Some(b) if b.ends_with(|c: char| c.is_ascii_lowercase()) => format!("{b} ID"),
        _ => base.to_string(),
    };
    let mut out = String::new();
    let chars: Vec<char> = base.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let boundary = i > 0
            && c.is_ascii_uppercase()
            && (chars[i - 1].is_ascii_lowercase()
                || chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase()) && chars[i - 1] != ' ');
        if c == '_' {
            out.push(' ');
        } else {
            if boundary && !out.ends_with(' ') {
                out.push(' ');
            }
            out.push(c);
        }
    }
    out
}

/// Id, IsDeleted, the audit fields and (unless `owned` is false) OwnerId.
fn system_fields(owned: bool) -> Vec<Field> {
    let mut fields = vec![
        field("Id", T::Id).mandatory().system(),
        field("IsDeleted", T::Boolean).system(),
        field("CreatedDate", T::Datetime).mandatory().system(),
        field("CreatedById", T::Reference)
            .mandatory()
            .system()
            .refers("User", "CreatedBy", None),
        field("LastModifiedDate", T::Datetime).mandatory().system(),
        field("LastModifiedById", T::Reference)
            .mandatory()
            .system()
            .refers("User", "LastModifiedBy", None),
        field("SystemModstamp", T::Datetime).mandatory().system(),
    ];
    if owned {
        let mut owner = field("OwnerId", T::Reference)
            .mandatory()
            .refers("User", "Owner", None);
        owner.defaulted_on_create = true;
        fields.push(owner);
    }
    fields
}

fn object(name: &str, prefix: &str, plural: &str, owned: bool, fields: Vec<Field>) -> Object {
    let mut all = system_fields(owned);
    all.extend(fields);
    Object {
        name: name.to_string(),
        label: label_of(name),
        label_plural: plural.to_string(),
        key_prefix: prefix.to_string(),
        custom: false,
        fields: all,
        children: Vec::new(),
    }
}

/// `Name` of a person: FirstName and LastName joined, not writable.
fn person_name() -> Field {
    field("Name", T::String).len(121).mandatory().system()
}

const LEAD_SOURCES: &[&str] = &[
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
];
const INDUSTRIES: &[&str] = &[
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
];

/// Account, Contact, Lead, Opportunity, Case and User.
pub fn objects() -> Vec<Object> {
    vec![
        object(
            "Account",
            "001",
            "Accounts",
            true,
            vec![
                field("Name", T::String)
                    .mandatory()
                    .labelled("Account Name"),
                field("AccountNumber", T::String).len(40),
                field("Type", T::Picklist).values(&[
                    "Prospect",
                    "Customer - Direct",
                    "Customer - Channel",
                    "Channel Partner / Reseller",
                    "Installation Partner",
                    "Technology Partner",
                    "Other",
                ]),
                field("Industry", T::Picklist).values(INDUSTRIES),
                field("Phone", T::Phone),
                field("Fax", T::Phone),
                field("Website", T::Url),
                field("BillingStreet", T::Textarea).len(255),
                field("BillingCity", T::String).len(40),
                field("BillingState", T::String).len(80),
                field("BillingPostalCode", T::String).len(20),
                field("BillingCountry", T::String).len(80),
                field("AnnualRevenue", T::Currency),
                field("NumberOfEmployees", T::Int).labelled("Employees"),
                field("Description", T::Textarea),
                field("ParentId", T::Reference).refers("Account", "Parent", Some("ChildAccounts")),
            ],
        ),
        object(
            "Contact",
            "003",
            "Contacts",
            true,
            vec![
                field("FirstName", T::String).len(40),
                field("LastName", T::String).len(80).mandatory(),
                person_name(),
                field("Salutation", T::Picklist).values(&["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]),
                field("Email", T::Email),
                field("Phone", T::Phone),
                field("MobilePhone", T::Phone),
                field("Title", T::String).len(128),
                field("Department", T::String).len(80),
                field("AccountId", T::Reference).refers("Account", "Account", Some("Contacts")),
                field("Birthdate", T::Date),
                field("LeadSource", T::Picklist).values(LEAD_SOURCES),
                field("MailingCity", T::String).len(40),
                field("Description", T::Textarea),
            ],
        ),
        object(
            "Lead",
            "00Q",
            "Leads",
            true,
            vec![
                field("FirstName", T::String).len(40),
                field("LastName", T::String).len(80).mandatory(),
                person_name(),
                field("Company", T::String).mandatory(),
                field("Title", T::String).len(128),
                field("Email", T::Email),
                field("Phone", T::Phone),
                field("Status", T::Picklist)
                    .mandatory()
                    .values(&[
                        "Open - Not Contacted",
                        "Working - Contacted",
                        "Closed - Converted",
                        "Closed - Not Converted",
                    ])
                    .defaults("Open - Not Contacted"),
                field("LeadSource", T::Picklist).values(LEAD_SOURCES),
                field("Industry", T::Picklist).values(INDUSTRIES),
                field("Description", T::Textarea),
                field("IsConverted", T::Boolean).system().defaults("false"),
            ],
        ),
        object(
            "Opportunity",
            "006",
            "Opportunities",
            true,
            vec![
                field("Name", T::String).len(120).mandatory(),
                field("AccountId", T::Reference).refers(
                    "Account",
                    "Account",
                    Some("Opportunities"),
                ),
                field("StageName", T::Picklist).mandatory().values(&[
                    "Prospecting",
                    "Qualification",
                    "Needs Analysis",
                    "Value Proposition",
                    "Id. Decision Makers",
                    "Perception Analysis",
                    "Proposal/Price Quote",
                    "Negotiation/Review",
                    "Closed Won",
                    "Closed Lost",
                ]),
                field("CloseDate", T::Date).mandatory(),
                field("Amount", T::Currency),
                field("Probability", T::Percent),
                field("Type", T::Picklist).values(&[
                    "Existing Customer - Upgrade",
                    "Existing Customer - Replacement",
                    "Existing Customer - Downgrade",
                    "New Customer",
                ]),
                field("LeadSource", T::Picklist).values(LEAD_SOURCES),
                field("Description", T::Textarea),
                field("IsClosed", T::Boolean).system().defaults("false"),
                field("IsWon", T::Boolean).system().defaults("false"),
            ],
        ),
        object(
            "Case",
            "500",
            "Cases",
            true,
            vec![
                field("CaseNumber", T::String).len(30).system(),
                field("Subject", T::String),
                field("Description", T::Textarea),
                field("Status", T::Picklist)
                    .mandatory()
                    .values(&["New", "Working", "Escalated", "Closed"])
                    .defaults("New"),
                field("Priority", T::Picklist)
                    .values(&["High", "Medium", "Low"])
                    .defaults("Medium"),
                field("Origin", T::Picklist).values(&["Phone", "Email", "Web"]),
                field("AccountId", T::Reference).refers("Account", "Account", Some("Cases")),
                field("ContactId", T::Reference).refers("Contact", "Contact", Some("Cases")),
                field("IsClosed", T::Boolean).system().defaults("false"),
            ],
        ),
        object(
            "User",
            "005",
            "Users",
            false,
            vec![
                field("Username", T::String).len(80).mandatory(),
                field("FirstName", T::String).len(40),
                field("LastName", T::String).len(80).mandatory(),
                person_name(),
                field("Email", T::Email).len(128).mandatory(),
                field("Alias", T::String).len(8).mandatory(),
                field("IsActive", T::Boolean).defaults("true"),
                field("ProfileId", T::Reference)
                    .mandatory()
                    .refers("Profile", "Profile", None),
                field("TimeZoneSidKey", T::Picklist).mandatory(),
                field("LocaleSidKey", T::Picklist).mandatory(),
                field("LanguageLocaleKey", T::Picklist).mandatory(),
                field("EmailEncodingKey", T::Picklist).mandatory(),
                field("UserType", T::Picklist).system(),
            ],
        ),
    ]
}

/// A custom object as `decl` starts it: system fields and a Name.
pub fn custom_object(decl: &ObjectDecl, key_prefix: String) -> Object {
    let label = decl.label.clone().unwrap_or_else(|| label_of(&decl.name));
    let plural = decl
        .label_plural
        .clone()
        .unwrap_or_else(|| format!("{label}s"));
    let mut object = object(
        &decl.name,
        &key_prefix,
        &plural,
        true,
        vec![field("Name", T::String).len(80)],
    );
    object.label = label;
    object.custom = decl.name.ends_with("__c");
    object
}

/// A field as `sim.toml` declares it on `object`.
pub fn declared_field(object: &str, decl: &FieldDecl) -> Field {
    let FieldDecl::Table(t) = decl else {
        return field(decl.name(), T::String);
    };
    let mut f = field(&t.name, t.kind);
    if let Some(label) = &t.label {
        f.label = label.clone();
    }
    if let Some(length) = t.length {
        f.length = length;
    }
    f.external_id = t.external_id;
    f.unique = t.unique;
    f.picklist = t.values.clone();
    if let Some(default) = &t.default {
        f = f.defaults(default);
    }
    if let Some(to) = &t.reference_to {
        let relationship = t
            .name
            .strip_suffix("__c")
            .map(|b| format!("{b}__r"))
            .unwrap_or_else(|| t.name.strip_suffix("Id").unwrap_or(&t.name).to_string());
        let children = t
            .child_relationship
            .clone()
            .unwrap_or_else(|| format!("{}s__r", object.strip_suffix("__c").unwrap_or(object)));
        f = f.refers(to, &relationship, Some(&children));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_like_salesforce_labels() {
        assert_eq!(label_of("BillingCity"), "Billing City");
        assert_eq!(label_of("AccountId"), "Account ID");
        assert_eq!(label_of("Id"), "Record ID");
        assert_eq!(label_of("External_Id__c"), "External Id");
        assert_eq!(label_of("Invoice__c"), "Invoice");
        assert_eq!(label_of("Name"), "Name");
    }
}
