//! The T-SQL that integrators send through Halo, parsed as SQL Server would parse it: a batch of
//! `DECLARE`, `SET`, `EXEC[UTE] [@ret =] [db.][schema.]proc args`, `SELECT` (of variables and literals,
//! or of columns FROM a table with WHERE / ORDER BY) and `IF cond statement [ELSE statement]`, separated
//! by optional semicolons. Keywords, names and variables are case-insensitive. Errors carry SQL Server's
//! numbers and wording (102 syntax, 105 unclosed quotation mark, 156 keyword).
//!
//! Written from bp-sdk.md's sources (HALO-PY's `DECLARE … EXEC @rv = … SELECT @rv AS AppointmentId`,
//! CS-NRME's named `EXEC … @aptdate = N'20191204'`, PHP's positional `EXEC BP_AddAppointment ?,…`,
//! HALO-PY-SQL's `SELECT appointment_id = @return_value`), not from any client of this simulator.

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

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    /// `[bracketed name]`
    Quoted(String),
    Var(String),
    Int(i64),
    Text(String),
    Symbol(&'static str),
}

const KEYWORDS: &[&str] = &[
    "DECLARE", "SET", "EXEC", "EXECUTE", "SELECT", "FROM", "WHERE", "AND", "OR", "AS", "IF", "ELSE", "BEGIN", "END",
    "ORDER", "BY", "ASC", "DESC", "NULL", "LIKE", "BETWEEN", "IS", "NOT", "OUTPUT", "OUT", "INSERT", "UPDATE",
    "DELETE", "DROP", "ALTER", "CREATE", "TRUNCATE", "MERGE", "GRANT",
];

fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

fn near(token: Option<&Token>) -> SqlError {
    match token {
        None => sql_error(102, "Incorrect syntax near ';'."),
        Some(Token::Word(w)) if is_keyword(w) => sql_error(
            156,
            format!("Incorrect syntax near the keyword '{}'.", w.to_ascii_uppercase()),
        ),
        Some(Token::Word(w)) | Some(Token::Quoted(w)) => sql_error(102, format!("Incorrect syntax near '{w}'.")),
        Some(Token::Var(v)) => sql_error(102, format!("Incorrect syntax near '{v}'.")),
        Some(Token::Int(n)) => sql_error(102, format!("Incorrect syntax near '{n}'.")),
        Some(Token::Text(t)) => sql_error(102, format!("Incorrect syntax near '{t}'.")),
        Some(Token::Symbol(s)) => sql_error(102, format!("Incorrect syntax near '{s}'.")),
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, SqlError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '\'' || ((c == 'N' || c == 'n') && chars.get(i + 1) == Some(&'\'')) {
            let start = if c == '\'' { i + 1 } else { i + 2 };
            let mut j = start;
            let mut value = String::new();
            loop {
                match chars.get(j) {
                    None => {
                        let tail: String = chars[start..].iter().collect();
                        return Err(sql_error(
                            105,
                            format!("Unclosed quotation mark after the character string '{tail}'."),
                        ));
                    }
                    Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                        value.push('\'');
                        j += 2;
                    }
                    Some('\'') => break,
                    Some(ch) => {
                        value.push(*ch);
                        j += 1;
                    }
                }
            }
            tokens.push(Token::Text(value));
            i = j + 1;
        } else if c == '@' {
            let mut j = i + 1;
            while j < chars.len()
                && (chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '@' || chars[j] == '#')
            {
                j += 1;
            }
            tokens.push(Token::Var(chars[i..j].iter().collect::<String>().to_ascii_lowercase()));
            i = j;
        } else if c.is_ascii_digit() {
            let mut j = i;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            let digits: String = chars[i..j].iter().collect();
            let value = digits.parse().map_err(|_| {
                sql_error(
                    8115,
                    format!("Arithmetic overflow error converting expression to data type bigint ({digits})."),
                )
            })?;
            tokens.push(Token::Int(value));
            i = j;
        } else if c.is_alphabetic() || c == '_' || c == '#' {
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '$' || chars[j] == '#')
            {
                j += 1;
            }
            tokens.push(Token::Word(chars[i..j].iter().collect()));
            i = j;
        } else if c == '[' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != ']' {
                j += 1;
            }
            if j >= chars.len() {
                let tail: String = chars[i..].iter().collect();
                return Err(sql_error(
                    105,
                    format!("Unclosed quotation mark after the character string '{tail}'."),
                ));
            }
            tokens.push(Token::Quoted(chars[i + 1..j].iter().collect()));
            i = j + 1;
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let symbol = match two.as_str() {
                "<=" => Some("<="),
                ">=" => Some(">="),
                "<>" => Some("<>"),
                "!=" => Some("!="),
                _ => None,
            };
            if let Some(symbol) = symbol {
                tokens.push(Token::Symbol(symbol));
                i += 2;
                continue;
            }
            let symbol = match c {
                ';' => ";",
                ',' => ",",
                '.' => ".",
                '=' => "=",
                '(' => "(",
                ')' => ")",
                '<' => "<",
                '>' => ">",
                '*' => "*",
                '-' => "-",
                '?' => "?",
                other => return Err(sql_error(102, format!("Incorrect syntax near '{other}'."))),
            };
            tokens.push(Token::Symbol(symbol));
            i += 1;
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        if self.keyword(word) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), SqlError> {
        if self.eat_keyword(word) {
            Ok(())
        } else {
            Err(near(self.peek()))
        }
    }

    fn symbol(&self, symbol: &str) -> bool {
        matches!(self.peek(), Some(Token::Symbol(s)) if *s == symbol)
    }

    fn eat_symbol(&mut self, symbol: &str) -> bool {
        if self.symbol(symbol) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<(), SqlError> {
        if self.eat_symbol(symbol) {
            Ok(())
        } else {
            Err(near(self.peek()))
        }
    }

    fn var(&mut self) -> Result<String, SqlError> {
        match self.next() {
            Some(Token::Var(v)) => Ok(v),
            other => Err(near(other.as_ref())),
        }
    }

    /// A name that is not a reserved keyword (a bracketed name may be anything).
    fn name(&mut self) -> Result<String, SqlError> {
        match self.next() {
            Some(Token::Word(w)) if !is_keyword(&w) => Ok(w),
            Some(Token::Quoted(q)) => Ok(q),
            other => Err(near(other.as_ref())),
        }
    }

    fn object_name(&mut self) -> Result<ObjectName, SqlError> {
        let mut parts = vec![self.name()?];
        while self.eat_symbol(".") {
            parts.push(self.name()?);
        }
        if parts.len() > 3 {
            return Err(sql_error(
                117,
                format!(
                    "The object name '{}' contains more than the maximum number of prefixes.",
                    parts.join(".")
                ),
            ));
        }
        let name = parts.pop().unwrap_or_default();
        let schema = parts.pop();
        let database = parts.pop();
        Ok(ObjectName { database, schema, name })
    }

    fn expr(&mut self) -> Result<Expr, SqlError> {
        match self.next() {
            Some(Token::Var(v)) => Ok(Expr::Var(v)),
            Some(Token::Int(n)) => Ok(Expr::Literal(Literal::Int(n))),
            Some(Token::Symbol("-")) => match self.next() {
                Some(Token::Int(n)) => Ok(Expr::Literal(Literal::Int(-n))),
                other => Err(near(other.as_ref())),
            },
            Some(Token::Text(t)) => Ok(Expr::Literal(Literal::Text(t))),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("NULL") => Ok(Expr::Literal(Literal::Null)),
            Some(Token::Word(w)) if !is_keyword(&w) => Ok(Expr::Column(w)),
            Some(Token::Quoted(q)) => Ok(Expr::Column(q)),
            other => Err(near(other.as_ref())),
        }
    }

    fn comparison(&mut self) -> Result<Condition, SqlError> {
        if self.eat_symbol("(") {
            let inner = self.condition()?;
            self.expect_symbol(")")?;
            return Ok(inner);
        }
        let left = self.expr()?;
        if self.eat_keyword("IS") {
            let negated = self.eat_keyword("NOT");
            self.expect_keyword("NULL")?;
            return Ok(Condition::IsNull(left, !negated));
        }
        if self.eat_keyword("BETWEEN") {
            let low = self.expr()?;
            self.expect_keyword("AND")?;
            let high = self.expr()?;
            return Ok(Condition::Between(left, low, high));
        }
        let op = if self.eat_keyword("LIKE") {
            CompareOp::Like
        } else {
            match self.next() {
                Some(Token::Symbol("=")) => CompareOp::Eq,
                Some(Token::Symbol("<>")) | Some(Token::Symbol("!=")) => CompareOp::Ne,
                Some(Token::Symbol("<")) => CompareOp::Lt,
                Some(Token::Symbol("<=")) => CompareOp::Le,
                Some(Token::Symbol(">")) => CompareOp::Gt,
                Some(Token::Symbol(">=")) => CompareOp::Ge,
                other => return Err(near(other.as_ref())),
            }
        };
        Ok(Condition::Compare(left, op, self.expr()?))
    }

    fn conjunction(&mut self) -> Result<Condition, SqlError> {
        let mut condition = self.comparison()?;
        while self.eat_keyword("AND") {
            condition = Condition::And(Box::new(condition), Box::new(self.comparison()?));
        }
        Ok(condition)
    }

    fn condition(&mut self) -> Result<Condition, SqlError> {
        let mut condition = self.conjunction()?;
        while self.eat_keyword("OR") {
            condition = Condition::Or(Box::new(condition), Box::new(self.conjunction()?));
        }
        Ok(condition)
    }

    /// A type name such as `INT`, `NVARCHAR(200)`, `NVARCHAR(MAX)`, `DECIMAL(10, 2)`.
    fn type_name(&mut self) -> Result<String, SqlError> {
        let mut name = self.name()?.to_ascii_uppercase();
        if self.eat_symbol("(") {
            let mut parts = Vec::new();
            loop {
                match self.next() {
                    Some(Token::Int(n)) => parts.push(n.to_string()),
                    Some(Token::Word(w)) if w.eq_ignore_ascii_case("MAX") => parts.push("MAX".into()),
                    other => return Err(near(other.as_ref())),
                }
                if !self.eat_symbol(",") {
                    break;
                }
            }
            self.expect_symbol(")")?;
            name = format!("{name}({})", parts.join(","));
        }
        Ok(name)
    }

    fn declare(&mut self) -> Result<Statement, SqlError> {
        let mut variables = Vec::new();
        loop {
            let var = self.var()?;
            self.eat_keyword("AS");
            let kind = self.type_name()?;
            let initial = if self.eat_symbol("=") { Some(self.expr()?) } else { None };
            variables.push((var, kind, initial));
            if !self.eat_symbol(",") {
                break;
            }
        }
        Ok(Statement::Declare(variables))
    }

    fn exec(&mut self) -> Result<Statement, SqlError> {
        let mut returns_into = None;
        if let Some(Token::Var(v)) = self.peek().cloned() {
            self.at += 1;
            self.expect_symbol("=")?;
            returns_into = Some(v);
        }
        let procedure = self.object_name()?;
        let mut args = Vec::new();
        if !self.at_statement_end() {
            loop {
                let arg = match (self.peek().cloned(), self.tokens.get(self.at + 1)) {
                    (Some(Token::Var(name)), Some(Token::Symbol("="))) => {
                        self.at += 2;
                        let value = self.expr()?;
                        let output = self.eat_keyword("OUTPUT") || self.eat_keyword("OUT");
                        Arg::Named { name, value, output }
                    }
                    (Some(Token::Symbol("?")), _) => return Err(near(self.peek())),
                    _ => {
                        if args.iter().any(|a| matches!(a, Arg::Named { .. })) {
                            return Err(sql_error(
                                119,
                                format!(
                                    "Must pass parameter number {} and subsequent parameters as '@name = value'. After the form '@name = value' has been used, all subsequent parameters must be passed in the form '@name = value'.",
                                    args.len() + 1
                                ),
                            ));
                        }
                        let value = self.expr()?;
                        self.eat_keyword("OUTPUT");
                        Arg::Positional(value)
                    }
                };
                args.push(arg);
                if !self.eat_symbol(",") {
                    break;
                }
            }
        }
        Ok(Statement::Exec {
            returns_into,
            procedure,
            args,
        })
    }

    fn select(&mut self) -> Result<Statement, SqlError> {
        let mut items = Vec::new();
        let mut star = false;
        loop {
            if self.eat_symbol("*") {
                star = true;
            } else if let (Some(Token::Word(alias)), Some(Token::Symbol("="))) =
                (self.peek().cloned(), self.tokens.get(self.at + 1))
            {
                // `SELECT appointment_id = @return_value`
                self.at += 2;
                items.push(SelectItem {
                    expr: self.expr()?,
                    name: Some(alias),
                });
            } else {
                let expr = self.expr()?;
                let name = if self.eat_keyword("AS") {
                    Some(match self.next() {
                        Some(Token::Word(w)) | Some(Token::Quoted(w)) | Some(Token::Text(w)) => w,
                        other => return Err(near(other.as_ref())),
                    })
                } else if let Some(Token::Word(w)) = self
                    .peek()
                    .cloned()
                    .filter(|t| matches!(t, Token::Word(w) if !is_keyword(w)))
                {
                    self.at += 1;
                    Some(w)
                } else {
                    match &expr {
                        Expr::Column(c) => Some(c.clone()),
                        _ => None,
                    }
                };
                items.push(SelectItem { expr, name });
            }
            if !self.eat_symbol(",") {
                break;
            }
        }
        let from = if self.eat_keyword("FROM") {
            Some(self.object_name()?)
        } else {
            None
        };
        let filter = if self.eat_keyword("WHERE") {
            Some(self.condition()?)
        } else {
            None
        };
        let mut order_by = Vec::new();
        if self.eat_keyword("ORDER") {
            self.expect_keyword("BY")?;
            loop {
                let column = self.name()?;
                let descending = self.eat_keyword("DESC");
                if !descending {
                    self.eat_keyword("ASC");
                }
                order_by.push((column, descending));
                if !self.eat_symbol(",") {
                    break;
                }
            }
        }
        if star && from.is_none() {
            return Err(sql_error(263, "Must specify table to select from."));
        }
        Ok(Statement::Select {
            items,
            star,
            from,
            filter,
            order_by,
        })
    }

    fn at_statement_end(&self) -> bool {
        match self.peek() {
            None => true,
            Some(Token::Symbol(";")) => true,
            Some(Token::Word(w)) => [
                "DECLARE", "SET", "EXEC", "EXECUTE", "SELECT", "IF", "ELSE", "END", "BEGIN",
            ]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(w)),
            _ => false,
        }
    }

    fn statement(&mut self) -> Result<Statement, SqlError> {
        let Some(Token::Word(word)) = self.peek().cloned() else {
            return Err(near(self.peek()));
        };
        self.at += 1;
        match word.to_ascii_uppercase().as_str() {
            "DECLARE" => self.declare(),
            "SET" => {
                let var = self.var()?;
                self.expect_symbol("=")?;
                Ok(Statement::Set(var, self.expr()?))
            }
            "EXEC" | "EXECUTE" => self.exec(),
            "SELECT" => self.select(),
            "IF" => {
                let condition = self.condition()?;
                let then = Box::new(self.statement()?);
                self.eat_symbol(";");
                let otherwise = if self.eat_keyword("ELSE") {
                    Some(Box::new(self.statement()?))
                } else {
                    None
                };
                Ok(Statement::If {
                    condition,
                    then,
                    otherwise,
                })
            }
            "BEGIN" => {
                let mut inner = Vec::new();
                while !self.keyword("END") {
                    if self.peek().is_none() {
                        return Err(sql_error(102, "Incorrect syntax near ';'."));
                    }
                    if self.eat_symbol(";") {
                        continue;
                    }
                    inner.push(self.statement()?);
                }
                self.at += 1;
                Ok(Statement::Block(inner))
            }
            verb @ ("INSERT" | "UPDATE" | "DELETE" | "DROP" | "ALTER" | "CREATE" | "TRUNCATE" | "MERGE" | "GRANT") => {
                // Read to the end of the statement; only the object matters for the permission check.
                self.eat_keyword("INTO");
                self.eat_keyword("FROM");
                self.eat_keyword("TABLE");
                self.eat_keyword("PROCEDURE");
                let object = self.object_name().map(|o| o.name).unwrap_or_default();
                while !self.at_statement_end() {
                    self.at += 1;
                }
                Ok(Statement::Forbidden {
                    verb: verb.to_string(),
                    object,
                })
            }
            _ => Err(near(Some(&Token::Word(word)))),
        }
    }
}

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
