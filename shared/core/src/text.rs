//! Text a person reads (a terminal, an email) carries strings from outside — alarm reasons,
//! resource names, record tags. A control character in one could move the cursor and hide a
//! line ("reserved 0 — APPLIED"); every human rendering therefore passes through
//! [`terminal_safe`], which keeps the rendering's own line breaks and shows every other control
//! character as an escape.

use std::fmt;

/// `text` with every control character but `\n` written as `\u{..}`.
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Renders `render` into `f` through [`terminal_safe`].
pub fn write_safe(
    f: &mut fmt::Formatter<'_>,
    render: impl Fn(&mut fmt::Formatter<'_>) -> fmt::Result,
) -> fmt::Result {
    struct Raw<R>(R);
    impl<R: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Raw<R> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            (self.0)(f)
        }
    }
    f.write_str(&terminal_safe(&Raw(render).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_shown_not_obeyed_and_lines_are_kept() {
        let hidden = "reserved 0 — APPLIED\n\u{1b}[1A\u{1b}[2Knothing happened\r\u{7}";
        assert_eq!(
            terminal_safe(hidden),
            "reserved 0 — APPLIED\n\\u{1b}[1A\\u{1b}[2Knothing happened\\u{d}\\u{7}"
        );
        assert_eq!(terminal_safe("plain — text\n"), "plain — text\n");
    }
}
