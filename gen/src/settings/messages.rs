//! The YAML parser's and serde's messages in the words of someone editing an environment
//! file: what was expected and what was found, never a Rust type name.

/// Rewrites `message` (from the parser or serde) for a reader of the file; `found` is the
/// text at the error's position, when known.
#[must_use]
pub fn plain(message: &str, found: Option<&str>) -> String {
    let found_text = || describe_found(found);
    if let Some(ty) = message.strip_prefix("invalid ")
        && let Some(expected) = scalar_type(ty)
    {
        return format!("expected {expected}, found {}", found_text());
    }
    if message == "expected string scalar" {
        return format!("expected a single value, found {}", found_text());
    }
    if message == "expected mapping start" {
        return format!(
            "expected settings as `key: value` lines (a mapping), found {}",
            found_text()
        );
    }
    if message == "expected sequence start" {
        return format!(
            "expected a list (`- item` lines or `[a, b]`), found {}",
            found_text()
        );
    }
    if message.starts_with("cannot deserialize null into") {
        return "expected a value, found nothing (an empty or null entry)".to_owned();
    }
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        return format!("`{key}` is given twice in one mapping; keep one");
    }
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((got, expected)) = rest.split_once(", expected ")
    {
        return format!("expected {}, found {}", words(expected), words(got));
    }
    if let Some(rest) = message.strip_prefix("invalid value: ")
        && let Some((got, expected)) = rest.split_once(", expected ")
    {
        return format!("expected {}, found {}", words(expected), words(got));
    }
    message.to_owned()
}

/// What a value of the type named in saphyr's `invalid <type>` message is, in words.
fn scalar_type(ty: &str) -> Option<String> {
    let whole = |max: &str| format!("a whole number from 0 to {max}");
    Some(match ty {
        "u8" => whole("255"),
        "u16" => whole("65535"),
        "u32" => whole("4294967295"),
        "u64" | "usize" => whole("18446744073709551615"),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "boolean" | "bool" => "`true` or `false`".to_owned(),
        "IP address syntax" => "an IP address such as `0.0.0.0` or `::`".to_owned(),
        "char" => "a single character".to_owned(),
        _ => return None,
    })
}

/// serde's type words (`u32`, `struct Autoscaling`, `sequence`, `map`) as a reader says them.
fn words(serde_words: &str) -> String {
    let w = serde_words.trim();
    if w.starts_with("struct ") || w == "map" || w == "a map" {
        return "a mapping of settings".to_owned();
    }
    if w.starts_with("enum ") {
        return "one of the listed values".to_owned();
    }
    if w == "sequence" || w == "a sequence" {
        return "a list".to_owned();
    }
    if w == "unit value" || w == "null" {
        return "nothing (null)".to_owned();
    }
    if let Some(expected) = scalar_type(w.trim_start_matches("a ").trim_start_matches("an ")) {
        return expected;
    }
    if let Some(v) = w.strip_prefix("string ") {
        return format!("the text {v}");
    }
    if let Some(v) = w
        .strip_prefix("integer ")
        .or_else(|| w.strip_prefix("floating point "))
    {
        return format!("the number {v}");
    }
    if let Some(v) = w.strip_prefix("boolean ") {
        return v.to_owned();
    }
    w.to_owned()
}

fn describe_found(found: Option<&str>) -> String {
    match found.map(str::trim) {
        None | Some("" | "~" | "null") => "nothing".to_owned(),
        Some(t) if t.starts_with('[') || t.starts_with("- ") || t == "-" => "a list".to_owned(),
        Some(t) if t.starts_with('{') || t.ends_with(':') || t.contains(": ") => {
            "a mapping".to_owned()
        }
        Some(t) => format!("`{t}`"),
    }
}

/// The value written at 1-based `line` and `column` of `text`: up to the end of the line,
/// a comment, or the end of a flow collection; a whole flow collection when one starts
/// there. A value on the next lines (a block list or mapping) is described by its first
/// line.
#[must_use]
pub fn found_at(text: &str, line: u64, column: u64) -> Option<String> {
    let line_text = text
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let start = usize::try_from(column).ok()?.checked_sub(1)?;
    let rest: String = line_text.chars().skip(start).collect();
    let rest = rest.trim_start();
    if rest.starts_with('[') || rest.starts_with('{') {
        return Some(rest.to_owned());
    }
    if rest.is_empty() {
        // A block value: what the next non-empty line starts with tells list from mapping.
        let next = text
            .lines()
            .skip(usize::try_from(line).ok()?)
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))?;
        return Some(if next.starts_with('-') {
            "- ".to_owned()
        } else {
            "{".to_owned()
        });
    }
    let end = rest.find([',', '}', ']', '#']).unwrap_or(rest.len());
    let value = rest[..end].trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    Some(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_say_what_was_expected_and_found() {
        assert_eq!(
            plain("invalid u32", Some("abc")),
            "expected a whole number from 0 to 4294967295, found `abc`"
        );
        assert_eq!(
            plain("invalid boolean", Some("maybe")),
            "expected `true` or `false`, found `maybe`"
        );
        assert_eq!(
            plain("expected sequence start", Some("abc")),
            "expected a list (`- item` lines or `[a, b]`), found `abc`"
        );
        assert_eq!(
            plain(
                "invalid type: sequence, expected a quantity: a number, or text",
                None
            ),
            "expected a quantity: a number, or text, found a list"
        );
        assert_eq!(
            plain(
                "invalid type: string \"x\", expected struct Autoscaling",
                None
            ),
            "expected a mapping of settings, found the text \"x\""
        );
    }

    #[test]
    fn the_value_at_a_position() {
        let text = "a: 1\nb: {c: abc, d: 2}\ne:\n  - x\n";
        assert_eq!(found_at(text, 2, 8).as_deref(), Some("abc"));
        assert_eq!(found_at(text, 2, 4).as_deref(), Some("{c: abc, d: 2}"));
        assert_eq!(found_at(text, 3, 3).as_deref(), Some("- "));
        assert_eq!(found_at(text, 9, 1), None);
    }
}
