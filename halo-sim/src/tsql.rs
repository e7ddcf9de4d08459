//! The T-SQL that integrators send through Halo, parsed as SQL Server would parse it: a batch of
//! `DECLARE`, `SET`, `EXEC[UTE] [@ret =] [db.][schema.]proc args`, `SELECT` (of variables and literals,
//! or of columns FROM a table with WHERE / ORDER BY) and `IF cond statement [ELSE statement]`, separated
//! by optional semicolons. Keywords, names and variables are case-insensitive. Errors carry SQL Server's
//! numbers and wording (102 syntax, 105 unclosed quotation mark, 156 keyword).
//!
//! Written from bp-sdk.md's sources (HALO-PY's `DECLARE … EXEC @rv = … SELECT @rv AS AppointmentId`,
//! CS-NRME's named `EXEC … @aptdate = N'20191204'`, PHP's positional `EXEC BP_AddAppointment ?,…`,
//! HALO-PY-SQL's `SELECT appointment_id = @return_value`), not from any client of this simulator.
//!
//! `lexer` reads the text into tokens; `parser` makes the statements below of them.

mod lexer;
mod parser;

use crate::sql::{SqlError, sql_error};

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Int(i64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Var(String),
    Literal(Literal),
    /// A column of the table in FROM (or an unknown name, refused when evaluated).
    Column(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare(Expr, CompareOp, Expr),
    Between(Expr, Expr, Expr),
    IsNull(Expr, bool),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Named { name: String, value: Expr, output: bool },
    Positional(Expr),
}

/// A possibly qualified object name: `[database.][schema.]name`.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectName {
    pub database: Option<String>,
    pub schema: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ObjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(db) = &self.database {
            write!(f, "{db}.")?;
        }
        if let Some(schema) = &self.schema {
            write!(f, "{schema}.")?;
        }
        f.write_str(&self.name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SelectItem {
    pub expr: Expr,
    /// The column name in the result: the alias, or the column's own name; `None` for an unnamed value.
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Declare(Vec<(String, String, Option<Expr>)>),
    Set(String, Expr),
    Exec {
        returns_into: Option<String>,
        procedure: ObjectName,
        args: Vec<Arg>,
    },
    Select {
        items: Vec<SelectItem>,
        star: bool,
        from: Option<ObjectName>,
        filter: Option<Condition>,
        order_by: Vec<(String, bool)>,
    },
    If {
        condition: Condition,
        then: Box<Statement>,
        otherwise: Option<Box<Statement>>,
    },
    Block(Vec<Statement>),
    /// Anything that changes tables or schema directly (INSERT, UPDATE, DELETE, DROP, ...): parsed only far
    /// enough to name the statement and its object, so permissions can refuse it as SQL Server would.
    Forbidden {
        verb: String,
        object: String,
    },
}

use lexer::tokenize;
use parser::Parser;

/// Parses a whole batch. Like SQL Server, a syntax error anywhere means nothing in the batch runs.
pub fn parse_batch(text: &str) -> Result<Vec<Statement>, SqlError> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        at: 0,
    };
    let mut statements = Vec::new();
    while parser.peek().is_some() {
        if parser.eat_symbol(";") {
            continue;
        }
        statements.push(parser.statement()?);
    }
    Ok(statements)
}

/// A procedure name as the `storedProcedure` command type gives it (`BPSPATIENTS.dbo.BP_GetAllUsers`).
pub fn parse_procedure_name(text: &str) -> Result<ObjectName, SqlError> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        at: 0,
    };
    let name = parser.object_name()?;
    if parser.peek().is_some() {
        return Err(sql_error(
            2812,
            format!("Could not find stored procedure '{}'.", text.trim()),
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halo_py_style_add_parses() {
        let batch = parse_batch(
            "DECLARE @AppointmentId INT; EXEC @AppointmentId = BPSPATIENTS.dbo.BP_AddAppointment @aptdate=@aptdate, \
             @apttime=@apttime; SELECT @AppointmentId AS AppointmentId;",
        )
        .unwrap();
        assert_eq!(batch.len(), 3);
        assert!(matches!(&batch[1], Statement::Exec { returns_into: Some(v), .. } if v == "@appointmentid"));
    }

    #[test]
    fn literals_comments_and_brackets() {
        let batch = parse_batch(
            "-- book it\nexec [BPSPatients].[dbo].[BP_AddAppointmentEx] @aptdate = N'20191204', @reason = N'O''Brien', /* x */ @videourl = NULL",
        )
        .unwrap();
        let Statement::Exec { procedure, args, .. } = &batch[0] else {
            panic!()
        };
        assert_eq!(procedure.name, "BP_AddAppointmentEx");
        assert_eq!(
            args[1],
            Arg::Named {
                name: "@reason".into(),
                value: Expr::Literal(Literal::Text("O'Brien".into())),
                output: false
            }
        );
    }

    #[test]
    fn sql_servers_errors_for_broken_text() {
        assert_eq!(parse_batch("EXEC BP_X @reason = 'O'Brien'").unwrap_err().number, 105);
        assert_eq!(parse_batch("EXEC BP_X @a = 1, 2").unwrap_err().number, 119);
        assert_eq!(parse_batch("SELECT FROM").unwrap_err().number, 156);
        assert_eq!(parse_batch("EXEC BP_X @a = @b @c").unwrap_err().number, 102);
    }

    #[test]
    fn select_forms() {
        let batch = parse_batch("SELECT appointment_id = @rv; SELECT @rv; SELECT RECORDID AS RecordID, USERID FROM BPSPATIENTS.dbo.APPOINTMENTS WHERE APPOINTMENTDATE BETWEEN @a AND @b AND REASON LIKE @p ORDER BY RECORDID DESC").unwrap();
        assert_eq!(batch.len(), 3);
        let Statement::Select {
            items, from, order_by, ..
        } = &batch[2]
        else {
            panic!()
        };
        assert_eq!(items[0].name.as_deref(), Some("RecordID"));
        assert_eq!(items[1].name.as_deref(), Some("USERID"));
        assert_eq!(from.as_ref().unwrap().name, "APPOINTMENTS");
        assert_eq!(order_by, &vec![("RECORDID".to_string(), true)]);
    }
}
