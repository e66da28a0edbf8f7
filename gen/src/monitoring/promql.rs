//! Just enough PromQL to write selectors safely: quoted label values and anchored
//! alternations, so a namespace or route never breaks (or widens) a query.

use std::fmt;

/// How a label matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Re,
}

/// A label matcher list, written `{a="x",b=~"y|z"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(Vec<(String, Op, String)>);

impl Selector {
    /// `label="value"` added.
    #[must_use]
    pub fn eq(mut self, label: &str, value: &str) -> Selector {
        self.0.push((label.to_owned(), Op::Eq, value.to_owned()));
        self
    }

    /// `label=~"regex"` added; `regex` is used as written (see [`any_of`]).
    #[must_use]
    pub fn re(mut self, label: &str, regex: &str) -> Selector {
        self.0.push((label.to_owned(), Op::Re, regex.to_owned()));
        self
    }

    /// `metric{matchers}`.
    #[must_use]
    pub fn of(&self, metric: &str) -> String {
        format!("{metric}{self}")
    }

    /// The label names this selector matches on, in order.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(l, _, _)| l.as_str())
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (label, op, value)) in self.0.iter().enumerate() {
            let op = match op {
                Op::Eq => "=",
                Op::Re => "=~",
            };
            let sep = if i == 0 { "" } else { "," };
            write!(f, "{sep}{label}{op}{}", quote(value))?;
        }
        f.write_str("}")
    }
}

/// A PromQL double-quoted string literal.
#[must_use]
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A regex matching exactly one of `values` (PromQL anchors `=~` at both ends).
#[must_use]
pub fn any_of(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| escape_regex(v))
        .collect::<Vec<_>>()
        .join("|")
}

fn escape_regex(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `by (a, b)` for an aggregation.
#[must_use]
pub fn by(labels: &[&str]) -> String {
    format!("by ({})", labels.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_quote_and_escape_values() {
        let s = Selector::default()
            .eq("namespace", r#"a"b\c"#)
            .re("route", &any_of(&["/v1/x.y", "/a"]));
        assert_eq!(s.of("m"), r#"m{namespace="a\"b\\c",route=~"/v1/x\\.y|/a"}"#);
        assert_eq!(s.labels().collect::<Vec<_>>(), ["namespace", "route"]);
    }

    #[test]
    fn an_empty_selector_is_braces() {
        assert_eq!(Selector::default().of("up"), "up{}");
    }
}
