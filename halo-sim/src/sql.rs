//! SQL Server's side of things: its errors (number + message), the values a batch works with, and how
//! they convert, compare and match `LIKE` patterns (case-insensitive, as Bp's default collation).

use std::cmp::Ordering;

use jiff::civil::{Date, DateTime};
use serde_json::Value as Json;

/// An error as SQL Server reports it; Halo passes it on as `errorDetails` with `errorType: mssql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub number: i64,
    pub message: String,
}

pub fn sql_error(number: i64, message: impl Into<String>) -> SqlError {
    SqlError {
        number,
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Date(Date),
    DateTime(DateTime),
}

/// The SQL types a value may be converted to (for variables, procedure parameters and columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    Int,
    Bit,
    Text,
    Date,
    DateTime,
}

impl SqlType {
    /// From a T-SQL type name as written in a DECLARE (`INT`, `NVARCHAR(200)`, `DATE`...).
    pub fn from_declared(name: &str) -> Result<SqlType, SqlError> {
        let base = name.split('(').next().unwrap_or(name).trim().to_ascii_uppercase();
        Ok(match base.as_str() {
            "INT" | "BIGINT" | "SMALLINT" | "TINYINT" => SqlType::Int,
            "BIT" => SqlType::Bit,
            "NVARCHAR" | "VARCHAR" | "NCHAR" | "CHAR" | "NTEXT" | "TEXT" | "SYSNAME" => SqlType::Text,
            "DATE" => SqlType::Date,
            "DATETIME" | "DATETIME2" | "SMALLDATETIME" => SqlType::DateTime,
            other => {
                return Err(sql_error(
                    2715,
                    format!("Column, parameter, or variable #1: Cannot find data type {other}."),
                ));
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            SqlType::Int => "int",
            SqlType::Bit => "bit",
            SqlType::Text => "nvarchar",
            SqlType::Date => "date",
            SqlType::DateTime => "datetime",
        }
    }
}

/// `YYYY-MM-DD`, `YYYYMMDD`, or either followed by a time (`T10:00:00`, ` 10:00`).
pub fn parse_date_text(text: &str) -> Option<DateTime> {
    let text = text.trim();
    let (day, rest) = if text.len() >= 8 && text.as_bytes()[..8].iter().all(u8::is_ascii_digit) {
        let day = format!("{}-{}-{}", &text[..4], &text[4..6], &text[6..8]);
        (day, &text[8..])
    } else {
        (text.get(..10)?.to_string(), text.get(10..)?)
    };
    let date: Date = day.parse().ok()?;
    let rest = rest.trim_start_matches(['T', ' ']).trim_end_matches('Z');
    if rest.is_empty() {
        return Some(date.to_datetime(jiff::civil::Time::midnight()));
    }
    let time: jiff::civil::Time = rest.parse().ok()?;
    Some(date.to_datetime(time))
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Int(_) => "int",
            Value::Text(_) => "nvarchar",
            Value::Date(_) => "date",
            Value::DateTime(_) => "datetime",
        }
    }

    /// Implicit conversion, with SQL Server's errors when it cannot.
    pub fn convert(&self, to: SqlType) -> Result<Value, SqlError> {
        let fail = |number| {
            sql_error(
                number,
                match self {
                    Value::Text(t) => format!(
                        "Conversion failed when converting the nvarchar value '{t}' to data type {}.",
                        to.name()
                    ),
                    other => format!(
                        "Operand type clash: {} is incompatible with {}",
                        other.type_name(),
                        to.name()
                    ),
                },
            )
        };
        Ok(match (self, to) {
            (Value::Null, _) => Value::Null,
            (Value::Int(n), SqlType::Int) => Value::Int(*n),
            (Value::Int(n), SqlType::Bit) => Value::Int((*n != 0) as i64),
            (Value::Int(n), SqlType::Text) => Value::Text(n.to_string()),
            (Value::Text(t), SqlType::Int | SqlType::Bit) => Value::Int(t.trim().parse().map_err(|_| fail(245))?),
            (Value::Text(t), SqlType::Text) => Value::Text(t.clone()),
            (Value::Text(t), SqlType::Date) => Value::Date(parse_date_text(t).ok_or_else(date_error)?.date()),
            (Value::Text(t), SqlType::DateTime) => Value::DateTime(parse_date_text(t).ok_or_else(date_error)?),
            (Value::Date(d), SqlType::Date) => Value::Date(*d),
            (Value::Date(d), SqlType::DateTime) => Value::DateTime(d.to_datetime(jiff::civil::Time::midnight())),
            (Value::Date(d), SqlType::Text) => Value::Text(d.to_string()),
            (Value::DateTime(d), SqlType::Date) => Value::Date(d.date()),
            (Value::DateTime(d), SqlType::DateTime) => Value::DateTime(*d),
            (Value::DateTime(d), SqlType::Text) => Value::Text(d.strftime("%Y-%m-%d %H:%M:%S").to_string()),
            _ => return Err(fail(206)),
        })
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// As the decoded `result.data` of a Halo query shows it: ints as numbers, DATETIME as ISO-8601
    /// without an offset, NULL as null.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Int(n) => Json::from(*n),
            Value::Text(t) => Json::from(t.as_str()),
            Value::Date(d) => Json::from(d.to_string()),
            Value::DateTime(d) => Json::from(d.strftime("%Y-%m-%dT%H:%M:%S").to_string()),
        }
    }

    /// As a Halo output/return parameter's `value`: a plain string (numbers too), or null.
    pub fn to_parameter(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Int(n) => Json::from(n.to_string()),
            other => match other.to_json() {
                Json::String(s) => Json::from(s),
                other => other,
            },
        }
    }

    /// SQL comparison; `None` when either side is NULL (unknown).
    pub fn compare(&self, other: &Value) -> Result<Option<Ordering>, SqlError> {
        Ok(match (self, other) {
            (Value::Null, _) | (_, Value::Null) => None,
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Text(a), Value::Text(b)) => Some(a.trim_end().to_lowercase().cmp(&b.trim_end().to_lowercase())),
            (Value::Date(_) | Value::DateTime(_), _) | (_, Value::Date(_) | Value::DateTime(_)) => {
                let a = self.convert(SqlType::DateTime)?;
                let b = other.convert(SqlType::DateTime)?;
                match (a, b) {
                    (Value::DateTime(a), Value::DateTime(b)) => Some(a.cmp(&b)),
                    _ => None,
                }
            }
            (Value::Int(_), Value::Text(_)) => self.compare(&other.convert(SqlType::Int)?)?,
            (Value::Text(_), Value::Int(_)) => self.convert(SqlType::Int)?.compare(other)?,
        })
    }
}

fn date_error() -> SqlError {
    sql_error(
        241,
        "Conversion failed when converting date and/or time from character string.",
    )
}

/// SQL Server's LIKE: `%` any run, `_` one character, `[abc]` / `[a-c]` / `[^a]` a class; case-insensitive.
pub fn like(value: &str, pattern: &str) -> bool {
    fn class_matches(class: &[char], c: char) -> bool {
        let (negated, class) = match class.first() {
            Some('^') => (true, &class[1..]),
            _ => (false, class),
        };
        let mut i = 0;
        let mut hit = false;
        while i < class.len() {
            if i + 2 < class.len() && class[i + 1] == '-' {
                hit |= class[i] <= c && c <= class[i + 2];
                i += 3;
            } else {
                hit |= class[i] == c;
                i += 1;
            }
        }
        hit != negated
    }
    fn go(v: &[char], p: &[char]) -> bool {
        match p.first() {
            None => v.is_empty(),
            Some('%') => (0..=v.len()).any(|skip| go(&v[skip..], &p[1..])),
            Some('_') => !v.is_empty() && go(&v[1..], &p[1..]),
            Some('[') => match p.iter().position(|c| *c == ']') {
                Some(end) if end > 1 => !v.is_empty() && class_matches(&p[1..end], v[0]) && go(&v[1..], &p[end + 1..]),
                _ => !v.is_empty() && v[0] == '[' && go(&v[1..], &p[1..]),
            },
            Some(c) => !v.is_empty() && v[0] == *c && go(&v[1..], &p[1..]),
        }
    }
    let v: Vec<char> = value.to_lowercase().chars().collect();
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    go(&v, &p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_sql_server_wildcards() {
        assert!(like("[REP] Jane (Acme) ref 01JABC", "%ref 01JABC%"));
        assert!(like("abc", "a_c"));
        assert!(!like("abc", "a_d"));
        assert!(like("ABC", "abc"));
        assert!(like("a5", "a[0-9]"));
        assert!(!like("ax", "a[0-9]"));
    }

    #[test]
    fn conversions_follow_sql_server() {
        assert_eq!(Value::Text("12".into()).convert(SqlType::Int).unwrap(), Value::Int(12));
        assert_eq!(Value::Text("x".into()).convert(SqlType::Int).unwrap_err().number, 245);
        assert_eq!(
            Value::Text("20191204".into()).convert(SqlType::Date).unwrap(),
            Value::Date("2019-12-04".parse().unwrap())
        );
        assert_eq!(
            Value::Text("2025-13-01".into())
                .convert(SqlType::Date)
                .unwrap_err()
                .number,
            241
        );
        let day = Value::Text("2025-07-01T00:00:00".into())
            .convert(SqlType::DateTime)
            .unwrap();
        assert_eq!(
            day.compare(&Value::Date("2025-07-01".parse().unwrap())).unwrap(),
            Some(Ordering::Equal)
        );
    }
}
