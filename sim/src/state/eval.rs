//! Runs a [`Plan`] over an org's records: conditions with Salesforce's
//! comparisons (text case-insensitive, ids exact in 15 or 18 characters,
//! null never equal and always unequal), ORDER BY with NULLS FIRST/LAST,
//! OFFSET and LIMIT, parent paths, child subqueries and aggregates.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::super::schema::{Field, FieldType};
use super::super::soql::{Function, Op, like};
use super::plan::{Cond, FieldRef, Lit, Plan, Sel, Target};
use super::query::{Cell, Children, Row};
use super::records::{Record, same_id};

/// An org's records as a query reads them.
pub struct Data<'r> {
    records: &'r [Record],
    by_id: HashMap<&'r str, &'r Record>,
    /// queryAll: deleted records count too.
    all_rows: bool,
}

impl<'r> Data<'r> {
    pub fn new(records: &'r [Record], all_rows: bool) -> Self {
        let mut by_id = HashMap::new();
        for r in records {
            by_id.insert(r.id.as_str(), r);
            by_id.insert(&r.id[..15.min(r.id.len())], r);
        }
        Self {
            records,
            by_id,
            all_rows,
        }
    }

    fn record(&self, id: &str) -> Option<&'r Record> {
        self.by_id.get(id).copied()
    }

    fn value(&self, record: &'r Record, field: &FieldRef<'_>) -> Option<&'r str> {
        let mut current = record;
        for hop in &field.hops {
            current = self.record(current.get(&hop.name)?)?;
        }
        current.get(&field.field.name)
    }

    /// Runs `plan` over its object's records (or the children of `parent`
    /// through `via`); returns totalSize and the rows.
    pub fn run(&self, plan: &Plan<'_>, parent: Option<(&Field, &str)>) -> (usize, Vec<Row>) {
        let matched: Vec<&'r Record> = self
            .records
            .iter()
            .filter(|r| r.object == plan.object.name && (self.all_rows || !r.is_deleted()))
            .filter(|r| {
                parent.is_none_or(|(via, id)| r.get(&via.name).is_some_and(|v| same_id(id, v)))
            })
            .filter(|r| {
                plan.filter
                    .as_ref()
                    .is_none_or(|c| self.test(Some(r), &[], c))
            })
            .collect();
        if plan.count_only {
            let n = matched.len().saturating_sub(plan.offset);
            return (plan.limit.map_or(n, |l| n.min(l)), Vec::new());
        }
        if plan.aggregate {
            return self.aggregate(plan, matched);
        }
        let mut matched = matched;
        matched.sort_by(|a, b| {
            self.order(
                plan,
                |t| self.target_value(Some(a), &[], t),
                |t| self.target_value(Some(b), &[], t),
            )
        });
        let rows: Vec<Row> = matched
            .into_iter()
            .skip(plan.offset)
            .take(plan.limit.unwrap_or(usize::MAX))
            .map(|r| self.row(r, plan))
            .collect();
        (rows.len(), rows)
    }

    /// The values a semi-join's subquery selects.
    pub fn run_for_values(&self, plan: &Plan<'_>, field: &FieldRef<'_>) -> HashSet<String> {
        self.records
            .iter()
            .filter(|r| r.object == plan.object.name && !r.is_deleted())
            .filter(|r| {
                plan.filter
                    .as_ref()
                    .is_none_or(|c| self.test(Some(r), &[], c))
            })
            .filter_map(|r| self.value(r, field).map(str::to_string))
            .collect()
    }

    fn order<'a>(
        &self,
        plan: &Plan<'_>,
        a: impl Fn(&Target<'_>) -> (Option<&'a str>, FieldType),
        b: impl Fn(&Target<'_>) -> (Option<&'a str>, FieldType),
    ) -> Ordering {
        for (target, descending, nulls_first) in &plan.order {
            let ((va, kind), (vb, _)) = (a(target), b(target));
            let ord = match (va, vb) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => {
                    if *nulls_first {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (Some(_), None) => {
                    if *nulls_first {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                (Some(x), Some(y)) => {
                    let ord = compare_typed(kind, x, y);
                    if *descending { ord.reverse() } else { ord }
                }
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }

    fn target_value<'a>(
        &self,
        record: Option<&'r Record>,
        aggs: &'a [Option<String>],
        target: &Target<'_>,
    ) -> (Option<&'a str>, FieldType)
    where
        'r: 'a,
    {
        match target {
            Target::Field(f) => (record.and_then(|r| self.value(r, f)), f.field.kind),
            Target::Agg(i) => (aggs.get(*i).and_then(|v| v.as_deref()), FieldType::Double),
        }
    }

    fn test(&self, record: Option<&'r Record>, aggs: &[Option<String>], cond: &Cond<'_>) -> bool {
        match cond {
            Cond::And(terms) => terms.iter().all(|t| self.test(record, aggs, t)),
            Cond::Or(terms) => terms.iter().any(|t| self.test(record, aggs, t)),
            Cond::Not(inner) => !self.test(record, aggs, inner),
            Cond::Cmp { target, op, lit } => {
                let (v, kind) = self.target_value(record, aggs, target);
                compare(kind, v, *op, lit)
            }
            Cond::In {
                target,
                lits,
                negated,
            } => {
                let (v, kind) = self.target_value(record, aggs, target);
                lits.iter().any(|l| compare(kind, v, Op::Eq, l)) != *negated
            }
            Cond::InSet {
                target,
                set,
                negated,
            } => {
                let (v, _) = self.target_value(record, aggs, target);
                let found = v.is_some_and(|v| {
                    set.contains(v) || set.iter().any(|s| same_id(s, v) || same_id(v, s))
                });
                found != *negated
            }
            Cond::Includes {
                target,
                groups,
                excludes,
            } => {
                let (v, _) = self.target_value(record, aggs, target);
                let values: HashSet<String> = v
                    .map(|v| v.split(';').map(|s| s.trim().to_lowercase()).collect())
                    .unwrap_or_default();
                let includes = groups.iter().any(|g| g.iter().all(|x| values.contains(x)));
                includes != *excludes
            }
        }
    }

    fn row(&self, record: &'r Record, plan: &Plan<'_>) -> Row {
        let mut row = Row::of(record);
        for sel in &plan.select {
            match sel {
                Sel::Field(field) => {
                    self.put(&mut row, record, &field.hops, &field.names, field.field)
                }
                Sel::Child {
                    name,
                    via,
                    plan: sub,
                } => {
                    let (total, rows) = self.run(sub, Some((via, &record.id)));
                    let cell = (!rows.is_empty()).then_some(Children { total, rows });
                    row.cells.push((name.clone(), Cell::Children(cell)));
                }
                Sel::Agg(_) => {}
            }
        }
        row
    }

    /// Puts a (possibly nested) field into `row`, sharing parent cells.
    fn put(
        &self,
        row: &mut Row,
        record: &'r Record,
        hops: &[&Field],
        names: &[String],
        field: &Field,
    ) {
        let Some((hop, rest)) = hops.split_first() else {
            row.cells.push((
                names[0].clone(),
                Cell::Value(record.get(&field.name).map(str::to_string), field.kind),
            ));
            return;
        };
        let existing = row
            .cells
            .iter()
            .position(|(n, c)| n == &names[0] && matches!(c, Cell::Parent(_)));
        let index = existing.unwrap_or_else(|| {
            let parent = record.get(&hop.name).and_then(|id| self.record(id));
            row.cells.push((
                names[0].clone(),
                Cell::Parent(parent.map(|p| Box::new(Row::of(p)))),
            ));
            row.cells.len() - 1
        });
        if let Cell::Parent(Some(parent_row)) = &mut row.cells[index].1
            && let Some(parent) = parent_row.id.as_deref().and_then(|id| self.record(id))
        {
            self.put(parent_row, parent, rest, &names[1..], field);
        }
    }

    fn aggregate(&self, plan: &Plan<'_>, matched: Vec<&'r Record>) -> (usize, Vec<Row>) {
        let mut groups: Vec<Vec<&'r Record>> = Vec::new();
        let mut index: HashMap<Vec<Option<String>>, usize> = HashMap::new();
        if plan.group.is_empty() {
            groups.push(matched);
        } else {
            for record in matched {
                let key: Vec<Option<String>> = plan
                    .group
                    .iter()
                    .map(|g| {
                        self.value(record, g).map(|v| {
                            if g.field.kind.is_text() {
                                v.to_lowercase()
                            } else {
                                v.to_string()
                            }
                        })
                    })
                    .collect();
                let i = *index.entry(key).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[i].push(record);
            }
        }
        let mut results: Vec<(Option<&'r Record>, Vec<Option<String>>)> = groups
            .into_iter()
            .map(|members| {
                let values: Vec<Option<String>> = plan
                    .aggs
                    .iter()
                    .map(|a| self.compute(a.function, a.arg.as_ref(), &members))
                    .collect();
                (members.first().copied(), values)
            })
            .filter(|(rep, values)| {
                plan.having
                    .as_ref()
                    .is_none_or(|c| self.test(*rep, values, c))
            })
            .collect();
        results.sort_by(|(ra, va), (rb, vb)| {
            self.order(
                plan,
                |t| self.target_value(*ra, va, t),
                |t| self.target_value(*rb, vb, t),
            )
        });
        let rows: Vec<Row> = results
            .into_iter()
            .skip(plan.offset)
            .take(plan.limit.unwrap_or(usize::MAX))
            .map(|(rep, values)| {
                let mut row = Row {
                    object: "AggregateResult".into(),
                    id: None,
                    cells: Vec::new(),
                };
                for sel in &plan.select {
                    match sel {
                        Sel::Field(f) => {
                            let v = rep.and_then(|r| self.value(r, f)).map(str::to_string);
                            row.cells
                                .push((f.field.name.clone(), Cell::Value(v, f.field.kind)));
                        }
                        Sel::Agg(i) => {
                            let spec = &plan.aggs[*i];
                            row.cells.push((
                                spec.name.clone(),
                                Cell::Value(values[*i].clone(), spec.kind),
                            ));
                        }
                        Sel::Child { .. } => {}
                    }
                }
                row
            })
            .collect();
        (rows.len(), rows)
    }

    fn compute(
        &self,
        function: Function,
        arg: Option<&FieldRef<'_>>,
        members: &[&'r Record],
    ) -> Option<String> {
        let Some(arg) = arg else {
            return Some(members.len().to_string());
        };
        let values: Vec<&str> = members.iter().filter_map(|r| self.value(r, arg)).collect();
        let numbers = || values.iter().filter_map(|v| v.parse::<f64>().ok());
        match function {
            Function::Count => Some(values.len().to_string()),
            Function::CountDistinct => {
                let distinct: HashSet<String> = values.iter().map(|v| v.to_lowercase()).collect();
                Some(distinct.len().to_string())
            }
            Function::Sum => (!values.is_empty()).then(|| numbers().sum::<f64>().to_string()),
            Function::Avg => (!values.is_empty())
                .then(|| (numbers().sum::<f64>() / values.len() as f64).to_string()),
            Function::Min => values
                .iter()
                .copied()
                .min_by(|a, b| compare_typed(arg.field.kind, a, b))
                .map(str::to_string),
            Function::Max => values
                .iter()
                .copied()
                .max_by(|a, b| compare_typed(arg.field.kind, a, b))
                .map(str::to_string),
        }
    }
}

/// Two non-null values of one field, as ORDER BY sorts them.
fn compare_typed(kind: FieldType, a: &str, b: &str) -> Ordering {
    if kind.is_number() || kind == FieldType::Double {
        let (x, y) = (
            a.parse::<f64>().unwrap_or(0.0),
            b.parse::<f64>().unwrap_or(0.0),
        );
        return x.partial_cmp(&y).unwrap_or(Ordering::Equal);
    }
    if kind.is_text() {
        return a.to_lowercase().cmp(&b.to_lowercase());
    }
    a.cmp(b)
}

/// Whether a field of `kind` holding `value` satisfies `op lit`.
fn compare(kind: FieldType, value: Option<&str>, op: Op, lit: &Lit) -> bool {
    let Some(v) = value else {
        // Null equals only null and is unequal to every value.
        return match lit {
            Lit::Null => op == Op::Eq,
            _ => op == Op::Ne,
        };
    };
    let ord = match lit {
        Lit::Null => return op == Op::Ne,
        Lit::Pattern(p) => return like(p, v),
        Lit::Range(start, end) => {
            let day = v.get(..10).unwrap_or(v);
            return match op {
                Op::Eq => start.as_str() <= day && day < end.as_str(),
                Op::Ne => !(start.as_str() <= day && day < end.as_str()),
                Op::Lt => day < start.as_str(),
                Op::Le => day < end.as_str(),
                Op::Gt => day >= end.as_str(),
                Op::Ge => day >= start.as_str(),
                Op::Like => false,
            };
        }
        Lit::Text(t)
            if matches!(kind, FieldType::Id | FieldType::Reference)
                && matches!(op, Op::Eq | Op::Ne) =>
        {
            let equal = same_id(v, t) || same_id(t, v);
            return equal == (op == Op::Eq);
        }
        Lit::Text(t) => compare_typed(kind, v, t),
        Lit::Num(n) => v
            .parse::<f64>()
            .ok()
            .and_then(|x| x.partial_cmp(n))
            .unwrap_or(Ordering::Less),
        Lit::Bool(b) => (v == "true").cmp(b),
        Lit::Instant(t) => v.cmp(t.as_str()),
    };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Like => false,
    }
}
