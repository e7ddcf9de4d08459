//! Plain aligned tables for people; `--json` bypasses them. Everything printed passes `printable`, so a
//! name holding escape codes or newlines cannot colour the terminal or forge a row.

/// Control and invisible characters shown as escapes (`\u{1b}`, `\u{200b}`), everything else as it is.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else if is_invisible(c) {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

use crate::api::model::is_invisible;

pub fn print(headers: &[&str], rows: &[Vec<String>]) {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| printable(cell)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    if rows.is_empty() {
        println!("(none)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_invisible_characters_are_escaped() {
        assert_eq!(printable("Ana\u{1b}[31m\nNg"), "Ana\\u{1b}[31m\\nNg");
        assert_eq!(printable("Al\u{200B}\u{2028}\u{FEFF}"), "Al\\u{200b}\\u{2028}\\u{feff}");
        assert_eq!(printable("O'Brien é"), "O'Brien é");
    }
}
