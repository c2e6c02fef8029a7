//! A parsed SOQL query checked against the schema: every path resolved to
//! the reference fields it crosses and the field it reads, every literal
//! checked against its field's type, aggregates collected, semi-joins run.
//! Errors are Salesforce's (INVALID_TYPE, INVALID_FIELD, MALFORMED_QUERY)
//! at the offset of the name at fault.

use std::collections::HashSet;

use super::super::schema::{Field, FieldType, Object, Schema};
use super::super::soql::{
    self, Expr, FieldSet, Function, InValues, Op, Operand, PatternItem, Query, QueryError,
    SelectItem,
};
use super::eval::Data;
use super::resolve::{WSDL, literal, resolve};

/// A path resolved: the reference fields it crosses, the field it reads,
/// and the names it has in a result (relationship names, then the field).
#[derive(Debug, Clone)]
pub struct FieldRef<'s> {
    pub hops: Vec<&'s Field>,
    pub field: &'s Field,
    pub names: Vec<String>,
}

impl FieldRef<'_> {
    fn same(&self, other: &FieldRef<'_>) -> bool {
        self.names == other.names
    }
}

pub enum Sel<'s> {
    Field(FieldRef<'s>),
    Child {
        name: String,
        via: &'s Field,
        plan: Box<Plan<'s>>,
    },
    Agg(usize),
}

pub struct AggSpec<'s> {
    pub function: Function,
    pub arg: Option<FieldRef<'s>>,
    /// The name in a result: the alias, or `exprN`.
    pub name: String,
    pub kind: FieldType,
}

pub enum Target<'s> {
    Field(FieldRef<'s>),
    Agg(usize),
}

pub enum Lit {
    Null,
    Text(String),
    Pattern(Vec<PatternItem>),
    Num(f64),
    Bool(bool),
    /// A date (`YYYY-MM-DD`) or a normalized date-time.
    Instant(String),
    /// Days `[start, end)` of a date literal.
    Range(String, String),
}

pub enum Cond<'s> {
    And(Vec<Cond<'s>>),
    Or(Vec<Cond<'s>>),
    Not(Box<Cond<'s>>),
    Cmp {
        target: Target<'s>,
        op: Op,
        lit: Lit,
    },
    In {
        target: Target<'s>,
        lits: Vec<Lit>,
        negated: bool,
    },
    InSet {
        target: Target<'s>,
        set: HashSet<String>,
        negated: bool,
    },
    Includes {
        target: Target<'s>,
        groups: Vec<Vec<String>>,
        excludes: bool,
    },
}

pub struct Plan<'s> {
    pub object: &'s Object,
    pub select: Vec<Sel<'s>>,
    pub filter: Option<Cond<'s>>,
    pub group: Vec<FieldRef<'s>>,
    pub having: Option<Cond<'s>>,
    pub order: Vec<(Target<'s>, bool, bool)>,
    pub aggs: Vec<AggSpec<'s>>,
    pub aggregate: bool,
    /// `SELECT COUNT() FROM ...`: only totalSize.
    pub count_only: bool,
    pub limit: Option<usize>,
    pub offset: usize,
}

/// Plans `query` on `object` (`Some`: a child subquery's object, already resolved).
pub fn plan<'s>(
    schema: &'s Schema,
    query: &Query,
    object: Option<&'s Object>,
    data: &Data<'_>,
) -> Result<Plan<'s>, QueryError> {
    let object = match object {
        Some(o) => o,
        None => schema.object(&query.object.text).ok_or_else(|| {
            QueryError::new(
                "INVALID_TYPE",
                format!("sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. {WSDL}", query.object.text),
                query.object.at,
            )
        })?,
    };
    let mut p = Plan {
        object,
        select: Vec::new(),
        filter: None,
        group: Vec::new(),
        having: None,
        order: Vec::new(),
        aggs: Vec::new(),
        aggregate: query.is_aggregate(),
        count_only: false,
        limit: query.limit,
        offset: query.offset.unwrap_or(0),
    };
    if p.offset > 2000 {
        return Err(QueryError::new(
            "NUMBER_OUTSIDE_VALID_RANGE",
            "Maximum SOQL offset allowed is 2000".to_string(),
            query.object.at,
        ));
    }
    for path in &query.group_by {
        p.group
            .push(resolve(schema, object, &path.segments, path.at)?);
    }
    let mut seen: Vec<String> = Vec::new();
    let mut expr_n = 0;
    for item in &query.select {
        match item {
            SelectItem::Field(path) => {
                let field = resolve(schema, object, &path.segments, path.at)?;
                if p.aggregate && !p.group.iter().any(|g| g.same(&field)) {
                    return Err(QueryError::new(
                        "MALFORMED_QUERY",
                        format!("Field must be grouped or aggregated: {}", field.field.name),
                        path.at,
                    ));
                }
                push_field(&mut p, &mut seen, field, path.at)?;
            }
            SelectItem::Fields(set, at) => {
                if *set != FieldSet::Standard && query.limit.is_none_or(|l| l > 200) {
                    return Err(QueryError::new(
                        "MALFORMED_QUERY",
                        "The SOQL FIELDS function must have a LIMIT of at most 200",
                        *at,
                    ));
                }
                for field in &object.fields {
                    let wanted = match set {
                        FieldSet::All => true,
                        FieldSet::Standard => !field.custom,
                        FieldSet::Custom => field.custom,
                    };
                    if wanted && !seen.contains(&field.name.to_ascii_lowercase()) {
                        seen.push(field.name.to_ascii_lowercase());
                        p.select.push(Sel::Field(FieldRef {
                            hops: Vec::new(),
                            field,
                            names: vec![field.name.clone()],
                        }));
                    }
                }
            }
            SelectItem::Aggregate(agg) => {
                let name = match &agg.alias {
                    Some(alias) => alias.clone(),
                    None => {
                        expr_n += 1;
                        format!("expr{}", expr_n - 1)
                    }
                };
                let i = add_agg(schema, object, &mut p.aggs, agg, name)?;
                p.select.push(Sel::Agg(i));
            }
            SelectItem::Subquery(sub) => {
                let rel = object.child(&sub.object.text).ok_or_else(|| {
                    QueryError::new(
                        "INVALID_TYPE",
                        format!("Didn't understand relationship '{}' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. {WSDL}", sub.object.text),
                        sub.object.at,
                    )
                })?;
                let child = schema.object(&rel.child).expect("linked by the schema");
                let via = child.field(&rel.field).expect("linked by the schema");
                let plan = plan(schema, sub, Some(child), data)?;
                p.select.push(Sel::Child {
                    name: rel.name.clone(),
                    via,
                    plan: Box::new(plan),
                });
            }
        }
    }
    p.count_only = matches!(query.select.as_slice(), [SelectItem::Aggregate(a)] if a.function == Function::Count && a.arg.is_none())
        && query.group_by.is_empty();
    if p.count_only {
        p.aggregate = false;
    }
    if let Some(filter) = &query.filter {
        p.filter = Some(condition(schema, object, &mut p.aggs, filter, false, data)?);
    }
    if let Some(having) = &query.having {
        if !p.aggregate {
            return Err(QueryError::malformed(
                "HAVING requires GROUP BY or an aggregate function",
                None,
            ));
        }
        p.having = Some(condition(schema, object, &mut p.aggs, having, true, data)?);
    }
    for order in &query.order_by {
        let target = match &order.key {
            Operand::Field(path) => {
                Target::Field(resolve(schema, object, &path.segments, path.at)?)
            }
            Operand::Aggregate(agg) => {
                Target::Agg(add_agg(schema, object, &mut p.aggs, agg, String::new())?)
            }
        };
        // Salesforce sorts nulls first unless told otherwise.
        p.order
            .push((target, order.descending, order.nulls_first.unwrap_or(true)));
    }
    Ok(p)
}

fn push_field<'s>(
    p: &mut Plan<'s>,
    seen: &mut Vec<String>,
    field: FieldRef<'s>,
    at: usize,
) -> Result<(), QueryError> {
    let key = field.names.join(".").to_ascii_lowercase();
    if seen.contains(&key) {
        return Err(QueryError::new(
            "MALFORMED_QUERY",
            format!("duplicate field selected: {}", field.names.join(".")),
            at,
        ));
    }
    seen.push(key);
    p.select.push(Sel::Field(field));
    Ok(())
}

fn add_agg<'s>(
    schema: &'s Schema,
    object: &'s Object,
    aggs: &mut Vec<AggSpec<'s>>,
    agg: &soql::Aggregate,
    name: String,
) -> Result<usize, QueryError> {
    let arg = match &agg.arg {
        Some(path) => Some(resolve(schema, object, &path.segments, path.at)?),
        None => None,
    };
    let kind = match (agg.function, &arg) {
        (Function::Count | Function::CountDistinct, _) => FieldType::Int,
        (Function::Sum | Function::Avg, Some(a)) if a.field.kind.is_number() => FieldType::Double,
        (Function::Min | Function::Max, Some(a)) if a.field.kind != FieldType::Boolean => {
            a.field.kind
        }
        (_, Some(a)) => {
            return Err(QueryError::new(
                "INVALID_FIELD",
                format!(
                    "field {} does not support aggregate operator {:?}",
                    a.field.name, agg.function
                )
                .to_string(),
                agg.at,
            ));
        }
        (_, None) => return Err(QueryError::malformed("unexpected token: ')'", Some(agg.at))),
    };
    if let Some(i) = aggs
        .iter()
        .position(|a| name.is_empty() && a.function == agg.function && same_arg(&a.arg, &arg))
    {
        return Ok(i);
    }
    aggs.push(AggSpec {
        function: agg.function,
        arg,
        name,
        kind,
    });
    Ok(aggs.len() - 1)
}

fn same_arg(a: &Option<FieldRef<'_>>, b: &Option<FieldRef<'_>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.same(b),
        (None, None) => true,
        _ => false,
    }
}

fn condition<'s>(
    schema: &'s Schema,
    object: &'s Object,
    aggs: &mut Vec<AggSpec<'s>>,
    expr: &Expr,
    having: bool,
    data: &Data<'_>,
) -> Result<Cond<'s>, QueryError> {
    let sub =
        |e: &Expr, aggs: &mut Vec<AggSpec<'s>>| condition(schema, object, aggs, e, having, data);
    Ok(match expr {
        Expr::And(terms) => Cond::And(
            terms
                .iter()
                .map(|t| sub(t, aggs))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(terms) => Cond::Or(
            terms
                .iter()
                .map(|t| sub(t, aggs))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Not(inner) => Cond::Not(Box::new(sub(inner, aggs)?)),
        Expr::Compare {
            left,
            op,
            value,
            at,
        } => {
            let (target, kind, name) = target(schema, object, aggs, left, having)?;
            Cond::Cmp {
                target,
                op: *op,
                lit: literal(kind, &name, *op, value, *at)?,
            }
        }
        Expr::In {
            left,
            values: InValues::List(values),
            negated,
            at,
        } => {
            let (target, kind, name) = target(schema, object, aggs, left, having)?;
            let lits = values
                .iter()
                .map(|v| literal(kind, &name, Op::Eq, v, *at))
                .collect::<Result<_, _>>()?;
            Cond::In {
                target,
                lits,
                negated: *negated,
            }
        }
        Expr::In {
            left,
            values: InValues::Select(query),
            negated,
            ..
        } => {
            let (target, _, _) = target(schema, object, aggs, left, having)?;
            let inner = plan(schema, query, None, data)?;
            let [Sel::Field(field)] = inner.select.as_slice() else {
                return Err(QueryError::new(
                    "MALFORMED_QUERY",
                    "The selected field in a semi join sub-select must be an Id or a reference",
                    query.object.at,
                ));
            };
            if !matches!(field.field.kind, FieldType::Id | FieldType::Reference) {
                return Err(QueryError::new(
                    "MALFORMED_QUERY",
                    "The selected field in a semi join sub-select must be an Id or a reference",
                    query.object.at,
                ));
            }
            let set = data.run_for_values(&inner, field);
            Cond::InSet {
                target,
                set,
                negated: *negated,
            }
        }
        Expr::Includes {
            left,
            values,
            excludes,
            ..
        } => {
            let (target, _, _) = target(schema, object, aggs, left, having)?;
            let groups = values
                .iter()
                .map(|v| v.split(';').map(|s| s.trim().to_lowercase()).collect())
                .collect();
            Cond::Includes {
                target,
                groups,
                excludes: *excludes,
            }
        }
    })
}

fn target<'s>(
    schema: &'s Schema,
    object: &'s Object,
    aggs: &mut Vec<AggSpec<'s>>,
    left: &Operand,
    having: bool,
) -> Result<(Target<'s>, FieldType, String), QueryError> {
    match left {
        Operand::Field(path) => {
            let field = resolve(schema, object, &path.segments, path.at)?;
            let (kind, name) = (field.field.kind, field.field.name.clone());
            Ok((Target::Field(field), kind, name))
        }
        Operand::Aggregate(agg) if having => {
            let i = add_agg(schema, object, aggs, agg, String::new())?;
            Ok((Target::Agg(i), aggs[i].kind, format!("{:?}", agg.function)))
        }
        Operand::Aggregate(agg) => Err(QueryError::new(
            "MALFORMED_QUERY",
            "Aggregate functions are not allowed in WHERE; use HAVING",
            agg.at,
        )),
    }
}
