//! Running a Halo command against a site's Bp database, as SQL Server runs it: a `text` batch is parsed
//! whole, its Halo parameters become variables (as `sp_executesql` does), and its statements run in order
//! until one fails (earlier ones keep their effect: there is no transaction); a `storedProcedure` command
//! binds the Halo parameters to the procedure's by name. Raw-table SELECTs need the site's permission.

use std::collections::HashMap;

use crate::bp::{self, Args, Bp, Procedure, Row};
use crate::sql::{SqlError, SqlType, Value, like, sql_error};
use crate::tsql::{Arg, CompareOp, Condition, Expr, Literal, ObjectName, SelectItem, Statement};

/// A Halo command parameter, its value already converted to its SqlDbType.
#[derive(Debug, Clone)]
pub struct Param {
    /// Lower-case, with `@`.
    pub name: String,
    pub direction: Direction,
    pub kind: SqlType,
    pub value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Input,
    Output,
    InputOutput,
    ReturnValue,
}

/// What a command did.
#[derive(Debug, Default)]
pub struct Executed {
    /// The first result set (Halo returns only that one).
    pub rows: Option<Vec<Row>>,
    pub rows_affected: i64,
    /// Output, input-output and return-value parameters with their final values.
    pub parameters: Vec<(Param, Value)>,
    /// Whether a procedure that changes data ran (for "504 after the write took effect").
    pub wrote: bool,
}

struct Batch<'a> {
    bp: &'a mut Bp,
    select_permission: bool,
    variables: HashMap<String, (SqlType, Value)>,
    executed: Executed,
}

/// The database a Halo site's commands run in; other names are other databases or do not exist.
fn in_patients_db(name: &ObjectName) -> bool {
    name.database
        .as_deref()
        .is_none_or(|db| db.eq_ignore_ascii_case("BPSPatients"))
        && name.schema.as_deref().is_none_or(|s| s.eq_ignore_ascii_case("dbo"))
}

fn find_procedure(name: &ObjectName) -> Result<&'static Procedure, SqlError> {
    bp::procedure(&name.name)
        .filter(|_| in_patients_db(name))
        .ok_or_else(|| sql_error(2812, format!("Could not find stored procedure '{name}'.")))
}

/// Binds EXEC arguments (named in any order, or positional) to a procedure's parameters.
fn bind(procedure: &Procedure, supplied: Vec<(Option<String>, Value)>) -> Result<Args, SqlError> {
    let mut bound = HashMap::new();
    for (position, (name, value)) in supplied.into_iter().enumerate() {
        let (param, kind) = match name {
            Some(name) => {
                let Some((param, kind, _)) = procedure.params.iter().find(|(p, _, _)| p.eq_ignore_ascii_case(&name))
                else {
                    return Err(sql_error(
                        8145,
                        format!("{name} is not a parameter for procedure {}.", procedure.name),
                    ));
                };
                (param.to_string(), *kind)
            }
            None => {
                let Some((param, kind, _)) = procedure.params.get(position) else {
                    return Err(sql_error(
                        8144,
                        format!(
                            "Procedure or function {} has too many arguments specified.",
                            procedure.name
                        ),
                    ));
                };
                (param.to_string(), *kind)
            }
        };
        let converted = value.convert(kind).map_err(|_| {
            sql_error(
                8114,
                format!(
                    "Error converting data type {} to {}.",
                    value.type_name(),
                    match kind {
                        SqlType::Int | SqlType::Bit => "int",
                        SqlType::Text => "nvarchar",
                        SqlType::Date => "date",
                        SqlType::DateTime => "datetime",
                    }
                ),
            )
        })?;
        bound.insert(param, converted);
    }
    for (param, _, required) in procedure.params {
        if *required && !bound.contains_key(*param) {
            return Err(sql_error(
                201,
                format!(
                    "Procedure or function '{}' expects parameter '{param}', which was not supplied.",
                    procedure.name
                ),
            ));
        }
    }
    Ok(Args(bound))
}

impl Batch<'_> {
    fn eval(&self, expr: &Expr, row: Option<&Row>) -> Result<Value, SqlError> {
        match expr {
            Expr::Var(name) => self
                .variables
                .get(name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| sql_error(137, format!("Must declare the scalar variable \"{name}\"."))),
            Expr::Literal(Literal::Null) => Ok(Value::Null),
            Expr::Literal(Literal::Int(n)) => Ok(Value::Int(*n)),
            Expr::Literal(Literal::Text(t)) => Ok(Value::Text(t.clone())),
            Expr::Column(column) => row
                .and_then(|r| r.iter().find(|(c, _)| c.eq_ignore_ascii_case(column)))
                .map(|(_, v)| v.clone())
                .ok_or_else(|| sql_error(207, format!("Invalid column name '{column}'."))),
        }
    }

    fn test(&self, condition: &Condition, row: Option<&Row>) -> Result<bool, SqlError> {
        Ok(match condition {
            Condition::And(a, b) => self.test(a, row)? && self.test(b, row)?,
            Condition::Or(a, b) => self.test(a, row)? || self.test(b, row)?,
            Condition::IsNull(expr, wanted) => matches!(self.eval(expr, row)?, Value::Null) == *wanted,
            Condition::Between(value, low, high) => {
                let value = self.eval(value, row)?;
                let above = value.compare(&self.eval(low, row)?)?.is_some_and(|o| o.is_ge());
                let below = value.compare(&self.eval(high, row)?)?.is_some_and(|o| o.is_le());
                above && below
            }
            Condition::Compare(left, CompareOp::Like, right) => {
                let (left, right) = (self.eval(left, row)?, self.eval(right, row)?);
                match (left.convert(SqlType::Text)?, right.convert(SqlType::Text)?) {
                    (Value::Text(value), Value::Text(pattern)) => like(&value, &pattern),
                    _ => false,
                }
            }
            Condition::Compare(left, op, right) => {
                let ordering = self.eval(left, row)?.compare(&self.eval(right, row)?)?;
                ordering.is_some_and(|o| match op {
                    CompareOp::Eq => o.is_eq(),
                    CompareOp::Ne => o.is_ne(),
                    CompareOp::Lt => o.is_lt(),
                    CompareOp::Le => o.is_le(),
                    CompareOp::Gt => o.is_gt(),
                    CompareOp::Ge => o.is_ge(),
                    CompareOp::Like => false,
                })
            }
        })
    }

    fn result_set(&mut self, rows: Vec<Row>) {
        if self.executed.rows.is_none() {
            self.executed.rows = Some(rows);
        }
    }

    fn assign(&mut self, name: &str, value: Value) -> Result<(), SqlError> {
        let Some((kind, slot)) = self.variables.get_mut(name) else {
            return Err(sql_error(137, format!("Must declare the scalar variable \"{name}\".")));
        };
        *slot = value.convert(*kind)?;
        Ok(())
    }

    fn select(
        &mut self,
        items: &[SelectItem],
        star: bool,
        from: Option<&ObjectName>,
        filter: Option<&Condition>,
        order_by: &[(String, bool)],
    ) -> Result<(), SqlError> {
        let Some(table_name) = from else {
            let row = items
                .iter()
                .map(|item| Ok((item.name.clone().unwrap_or_default(), self.eval(&item.expr, None)?)))
                .collect::<Result<Row, SqlError>>()?;
            self.result_set(vec![row]);
            return Ok(());
        };
        let table = in_patients_db(table_name)
            .then(|| self.bp.table(&table_name.name))
            .flatten()
            .ok_or_else(|| sql_error(208, format!("Invalid object name '{table_name}'.")))?;
        if !self.select_permission {
            return Err(sql_error(
                229,
                format!(
                    "The SELECT permission was denied on the object '{}', database 'BPSPatients', schema 'dbo'.",
                    table_name.name.to_ascii_uppercase()
                ),
            ));
        }
        let mut rows = Vec::new();
        for row in &table {
            if let Some(condition) = filter
                && !self.test(condition, Some(row))?
            {
                continue;
            }
            rows.push(row.clone());
        }
        for (column, descending) in order_by.iter().rev() {
            let key = |row: &Row| {
                row.iter()
                    .find(|(c, _)| c.eq_ignore_ascii_case(column))
                    .map(|(_, v)| v.clone())
            };
            if table.first().is_some_and(|row| key(row).is_none()) {
                return Err(sql_error(207, format!("Invalid column name '{column}'.")));
            }
            rows.sort_by(|a, b| {
                let ordering = key(a)
                    .zip(key(b))
                    .and_then(|(x, y)| x.compare(&y).ok().flatten())
                    .unwrap_or(std::cmp::Ordering::Equal);
                if *descending { ordering.reverse() } else { ordering }
            });
        }
        let projected = rows
            .iter()
            .map(|row| {
                if star {
                    return Ok(row.clone());
                }
                items
                    .iter()
                    .map(|item| Ok((item.name.clone().unwrap_or_default(), self.eval(&item.expr, Some(row))?)))
                    .collect::<Result<Row, SqlError>>()
            })
            .collect::<Result<Vec<Row>, SqlError>>()?;
        // A column that does not exist is an error even when no row matched.
        if projected.is_empty()
            && !star
            && let Some(first) = table.first()
        {
            for item in items {
                self.eval(&item.expr, Some(first))?;
            }
        }
        self.result_set(projected);
        Ok(())
    }

    fn run(&mut self, statement: &Statement) -> Result<(), SqlError> {
        match statement {
            Statement::Declare(variables) => {
                for (name, kind, initial) in variables {
                    if self.variables.contains_key(name) {
                        return Err(sql_error(
                            134,
                            format!(
                                "The variable name '{name}' has already been declared. Variable names must be unique within a query batch or stored procedure."
                            ),
                        ));
                    }
                    let kind = SqlType::from_declared(kind)?;
                    let value = match initial {
                        Some(expr) => self.eval(expr, None)?.convert(kind)?,
                        None => Value::Null,
                    };
                    self.variables.insert(name.clone(), (kind, value));
                }
            }
            Statement::Set(name, expr) => {
                let value = self.eval(expr, None)?;
                self.assign(name, value)?;
            }
            Statement::Exec {
                returns_into,
                procedure,
                args,
            } => {
                let procedure = find_procedure(procedure)?;
                let mut supplied = Vec::new();
                for arg in args {
                    match arg {
                        Arg::Named { name, value, .. } => supplied.push((Some(name.clone()), self.eval(value, None)?)),
                        Arg::Positional(value) => supplied.push((None, self.eval(value, None)?)),
                    }
                }
                let bound = bind(procedure, supplied)?;
                self.executed.wrote |= procedure.writes;
                let outcome = self.bp.call(procedure, &bound)?;
                if outcome.affected >= 0 {
                    self.executed.rows_affected += outcome.affected;
                }
                if let Some(rows) = outcome.rows {
                    self.result_set(rows);
                }
                if let Some(target) = returns_into {
                    self.assign(target, Value::Int(outcome.return_value))?;
                }
            }
            Statement::Select {
                items,
                star,
                from,
                filter,
                order_by,
            } => self.select(items, *star, from.as_ref(), filter.as_ref(), order_by)?,
            Statement::If {
                condition,
                then,
                otherwise,
            } => {
                if self.test(condition, None)? {
                    self.run(then)?;
                } else if let Some(otherwise) = otherwise {
                    self.run(otherwise)?;
                }
            }
            Statement::Block(statements) => {
                for statement in statements {
                    self.run(statement)?;
                }
            }
            Statement::Forbidden { verb, object } => {
                return Err(match verb.as_str() {
                    "DROP" => sql_error(
                        3701,
                        format!(
                            "Cannot drop the table '{object}', because it does not exist or you do not have permission."
                        ),
                    ),
                    verb => sql_error(
                        229,
                        format!(
                            "The {verb} permission was denied on the object '{object}', database 'BPSPatients', schema 'dbo'."
                        ),
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Runs a `text` command: the whole batch parses first, then runs statement by statement.
pub fn run_text(bp: &mut Bp, select_permission: bool, text: &str, params: &[Param]) -> Result<Executed, SqlError> {
    let statements = crate::tsql::parse_batch(text)?;
    let mut batch = Batch {
        bp,
        select_permission,
        variables: params
            .iter()
            .filter(|p| p.direction != Direction::ReturnValue)
            .map(|p| (p.name.clone(), (p.kind, p.value.clone())))
            .collect(),
        executed: Executed::default(),
    };
    for statement in &statements {
        batch.run(statement)?;
    }
    let mut executed = batch.executed;
    executed.parameters = params
        .iter()
        .filter(|p| p.direction != Direction::Input)
        .map(|p| {
            let value = match p.direction {
                // A batch has no RETURN of its own.
                Direction::ReturnValue => Value::Null,
                _ => batch
                    .variables
                    .get(&p.name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or(Value::Null),
            };
            (p.clone(), value)
        })
        .collect();
    Ok(executed)
}

/// Runs a `storedProcedure` command: `text` names the procedure, the input parameters bind by name and a
/// `returnValue` parameter receives its RETURN value.
pub fn run_procedure(bp: &mut Bp, text: &str, params: &[Param]) -> Result<Executed, SqlError> {
    let name = crate::tsql::parse_procedure_name(text)?;
    let procedure = find_procedure(&name)?;
    let supplied = params
        .iter()
        .filter(|p| matches!(p.direction, Direction::Input | Direction::InputOutput))
        .map(|p| (Some(p.name.clone()), p.value.clone()))
        .collect();
    let bound = bind(procedure, supplied)?;
    let outcome = bp.call(procedure, &bound)?;
    Ok(Executed {
        rows: outcome.rows,
        rows_affected: outcome.affected.max(0),
        parameters: params
            .iter()
            .filter(|p| p.direction != Direction::Input)
            .map(|p| {
                let value = match p.direction {
                    Direction::ReturnValue => Value::Int(outcome.return_value),
                    _ => bound.0.get(&p.name).cloned().unwrap_or(Value::Null),
                };
                (p.clone(), value)
            })
            .collect(),
        wrote: procedure.writes,
    })
}
