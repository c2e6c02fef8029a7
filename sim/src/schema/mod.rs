//! The org's data model: the standard objects (Account, Contact, Lead,
//! Opportunity, Case, User) with their system fields and relationships,
//! merged with the objects and fields `sim.toml` declares; what describe,
//! SOQL and every write check names and types against.

mod standard;

use std::collections::BTreeMap;

use serde::Deserialize;

/// A field's type, as describe names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Id,
    String,
    Textarea,
    Email,
    Phone,
    Url,
    Picklist,
    Multipicklist,
    Boolean,
    Int,
    Double,
    Currency,
    Percent,
    Date,
    Datetime,
    Reference,
}

impl FieldType {
    /// The name describe gives it (`"string"`, `"reference"`...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::String => "string",
            Self::Textarea => "textarea",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Url => "url",
            Self::Picklist => "picklist",
            Self::Multipicklist => "multipicklist",
            Self::Boolean => "boolean",
            Self::Int => "int",
            Self::Double => "double",
            Self::Currency => "currency",
            Self::Percent => "percent",
            Self::Date => "date",
            Self::Datetime => "datetime",
            Self::Reference => "reference",
        }
    }

    /// The SOAP type describe gives it.
    pub fn soap_type(self) -> &'static str {
        match self {
            Self::Id | Self::Reference => "tns:ID",
            Self::Boolean => "xsd:boolean",
            Self::Int => "xsd:int",
            Self::Double | Self::Currency | Self::Percent => "xsd:double",
            Self::Date => "xsd:date",
            Self::Datetime => "xsd:dateTime",
            _ => "xsd:string",
        }
    }

    /// Whether values are JSON numbers.
    pub fn is_number(self) -> bool {
        matches!(
            self,
            Self::Int | Self::Double | Self::Currency | Self::Percent
        )
    }

    /// Whether values are text (compared case-insensitively, LIKE applies).
    pub fn is_text(self) -> bool {
        matches!(
            self,
            Self::String
                | Self::Textarea
                | Self::Email
                | Self::Phone
                | Self::Url
                | Self::Picklist
                | Self::Multipicklist
        )
    }
}

/// One field of an object.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub label: String,
    pub kind: FieldType,
    pub length: u32,
    pub nillable: bool,
    pub createable: bool,
    pub updateable: bool,
    /// Filled in on create when absent (`defaultedOnCreate`), with this value
    /// when there is one.
    pub default: Option<String>,
    pub defaulted_on_create: bool,
    pub external_id: bool,
    pub unique: bool,
    pub custom: bool,
    pub reference_to: Vec<String>,
    pub relationship_name: Option<String>,
    /// The parent's name for the list of these records (`Contacts`).
    pub child_relationship: Option<String>,
    pub picklist: Vec<String>,
}

impl Field {
    /// Whether create must set it (REQUIRED_FIELD_MISSING otherwise).
    pub fn required(&self) -> bool {
        !self.nillable && self.createable && !self.defaulted_on_create
    }
}

/// A child relationship: records of `child` whose `field` points here.
#[derive(Debug, Clone)]
pub struct ChildRelationship {
    pub name: String,
    pub child: String,
    pub field: String,
}

/// An sObject type.
#[derive(Debug, Clone)]
pub struct Object {
    pub name: String,
    pub label: String,
    pub label_plural: String,
    /// Three characters that start its record ids (`001` for Account).
    pub key_prefix: String,
    pub custom: bool,
    pub fields: Vec<Field>,
    pub children: Vec<ChildRelationship>,
}

impl Object {
    /// A field by case-insensitive name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The reference field whose relationship is `name` (`Account` of AccountId).
    pub fn relationship(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| {
            f.relationship_name
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(name))
        })
    }

    /// A child relationship by case-insensitive name.
    pub fn child(&self, name: &str) -> Option<&ChildRelationship> {
        self.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Fields an external-id upsert or lookup may use.
    pub fn external_ids(&self) -> impl Iterator<Item = &Field> {
        self.fields
            .iter()
            .filter(|f| f.external_id || f.name == "Id")
    }
}

/// A field as `sim.toml` declares it: a bare name (text, 255 characters) or a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FieldDecl {
    Name(String),
    Table(FieldTable),
}

/// A field declared with its details.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldTable {
    pub name: String,
    #[serde(rename = "type", default = "text")]
    pub kind: FieldType,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub length: Option<u32>,
    #[serde(default)]
    pub external_id: bool,
    #[serde(default)]
    pub unique: bool,
    /// For `type = "reference"`: the object it points at.
    #[serde(default)]
    pub reference_to: Option<String>,
    /// For references: the parent's name for the list of these records.
    #[serde(default)]
    pub child_relationship: Option<String>,
    /// For picklists.
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default)]
    pub default: Option<String>,
}

fn text() -> FieldType {
    FieldType::String
}

impl FieldDecl {
    pub fn name(&self) -> &str {
        match self {
            Self::Name(n) => n,
            Self::Table(t) => &t.name,
        }
    }
}

/// An `[[object]]` of `sim.toml`: a custom object, or fields added to a standard one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectDecl {
    pub name: String,
    /// Three characters; required for a custom object.
    #[serde(default)]
    pub key_prefix: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub label_plural: Option<String>,
    #[serde(default)]
    pub fields: Vec<FieldDecl>,
    /// Fields that create requires (REQUIRED_FIELD_MISSING).
    #[serde(default)]
    pub required: Vec<String>,
    /// Fields usable as an upsert or lookup external id.
    #[serde(default)]
    pub external_ids: Vec<String>,
}

/// Every object of the simulator.
#[derive(Debug, Clone)]
pub struct Schema {
    pub objects: Vec<Object>,
}

impl Schema {
    /// The standard objects merged with `decls`; every problem at once.
    pub fn build(decls: &[ObjectDecl]) -> Result<Self, Vec<String>> {
        let mut objects = standard::objects();
        let mut problems = Vec::new();
        for (i, decl) in decls.iter().enumerate() {
            let at = format!("object[{i}]");
            let index = match objects
                .iter()
                .position(|o| o.name.eq_ignore_ascii_case(&decl.name))
            {
                Some(index) => {
                    if decl
                        .key_prefix
                        .as_ref()
                        .is_some_and(|p| *p != objects[index].key_prefix)
                    {
                        problems.push(format!(
                            "{at}.key_prefix: {} is a standard object, its key prefix is {}",
                            objects[index].name, objects[index].key_prefix
                        ));
                    }
                    index
                }
                None => {
                    let prefix = decl.key_prefix.clone().unwrap_or_default();
                    if prefix.len() != 3 || !prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
                        problems.push(format!(
                            "{at}.key_prefix = {prefix:?}: a key prefix is 3 letters or digits (a custom object needs one)"
                        ));
                    } else if let Some(o) = objects.iter().find(|o| o.key_prefix == prefix) {
                        problems.push(format!(
                            "{at}.key_prefix = {prefix:?}: already {}'s",
                            o.name
                        ));
                    }
                    objects.push(standard::custom_object(decl, prefix));
                    objects.len() - 1
                }
            };
            let object = &mut objects[index];
            for field in &decl.fields {
                if object.field(field.name()).is_some() {
                    if let FieldDecl::Table(_) = field {
                        problems.push(format!(
                            "{at}.fields: {} is already a field of {}",
                            field.name(),
                            object.name
                        ));
                    }
                    continue;
                }
                object
                    .fields
                    .push(standard::declared_field(&object.name, field));
            }
            for (key, names) in [
                ("required", &decl.required),
                ("external_ids", &decl.external_ids),
            ] {
                for name in names {
                    match object
                        .fields
                        .iter_mut()
                        .find(|f| f.name.eq_ignore_ascii_case(name))
                    {
                        Some(f) if key == "required" => {
                            f.nillable = false;
                            f.defaulted_on_create = false;
                        }
                        Some(f) => f.external_id = true,
                        None => {
                            problems.push(format!("{at}.{key}: {name:?} is not one of its fields"))
                        }
                    }
                }
            }
        }
        let names: Vec<String> = objects.iter().map(|o| o.name.clone()).collect();
        for object in &objects {
            for field in &object.fields {
                for target in &field.reference_to {
                    if !names.iter().any(|n| n == target) && target != "Profile" {
                        problems.push(format!(
                            "object {}: field {} refers to {target:?}, which is no object",
                            object.name, field.name
                        ));
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        link_children(&mut objects);
        Ok(Self { objects })
    }

    /// An object by case-insensitive name.
    pub fn object(&self, name: &str) -> Option<&Object> {
        self.objects
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(name))
    }

    /// The object whose ids start with the prefix of `id`.
    pub fn object_of_id(&self, id: &str) -> Option<&Object> {
        let prefix = id.get(..3)?;
        self.objects.iter().find(|o| o.key_prefix == prefix)
    }
}

/// Gives each parent the child relationships its children's references name.
fn link_children(objects: &mut [Object]) {
    let mut links: BTreeMap<String, Vec<ChildRelationship>> = BTreeMap::new();
    for object in objects.iter() {
        for field in &object.fields {
            if let (Some(child_name), [parent]) =
                (&field.child_relationship, field.reference_to.as_slice())
            {
                links
                    .entry(parent.clone())
                    .or_default()
                    .push(ChildRelationship {
                        name: child_name.clone(),
                        child: object.name.clone(),
                        field: field.name.clone(),
                    });
            }
        }
    }
    for object in objects.iter_mut() {
        object.children = links.remove(&object.name).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests;
