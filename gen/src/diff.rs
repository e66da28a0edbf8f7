//! `gen diff`: what applying a fresh render would change compared with the committed file.

use similar::TextDiff;

/// A unified diff from `old` to `new` (empty when they are equal), with three lines of
/// context, as `git diff` shows it.
#[must_use]
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::unified;

    #[test]
    fn equal_texts_have_no_diff_and_changes_show_as_hunks() {
        assert_eq!(unified("a\nb\n", "a\nb\n", "x", "y"), "");
        let d = unified("a\nb\nc\n", "a\nB\nc\n", "out/prod.yaml", "gen prod");
        assert!(
            d.starts_with("--- out/prod.yaml\n+++ gen prod\n@@ -1,3 +1,3 @@\n"),
            "{d}"
        );
        assert!(d.contains("-b\n+B\n"), "{d}");
    }
}
