//! The T-SQL parser: statements from the lexer's tokens, one token of lookahead, errors as SQL Server
//! words them.

use super::lexer::{Token, is_keyword, near};
use super::*;
use crate::sql::{SqlError, sql_error};

pub(super) struct Parser {
    pub(super) tokens: Vec<Token>,
    pub(super) at: usize,
}

impl Parser {
    pub(super) fn peek(&self) -> Option<&Token> {
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

    pub(super) fn eat_symbol(&mut self, symbol: &str) -> bool {
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

    pub(super) fn object_name(&mut self) -> Result<ObjectName, SqlError> {
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

    pub(super) fn statement(&mut self) -> Result<Statement, SqlError> {
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
