//! The T-SQL lexer: words, `[bracketed names]`, `@variables`, integers, `N'text'` and symbols, with
//! SQL Server's errors for what it cannot read (105 for an unclosed quotation mark, 102 and 156 near a
//! token).

use crate::sql::{SqlError, sql_error};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
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

pub(super) fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

pub(super) fn near(token: Option<&Token>) -> SqlError {
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

pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, SqlError> {
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
