//! `gen diff`: what applying a fresh render would change compared with the committed file.

use std::path::PathBuf;

use similar::TextDiff;

use super::{Error, print, report_lint};
use crate::catalog::Catalog;
use crate::pipeline;

/// Options of `gen diff`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Folder holding the environment files.
    pub environments: PathBuf,
    /// Environment name or path to an environment file.
    pub env: String,
    /// Folder holding the committed output.
    pub out: PathBuf,
}

/// Prints a unified diff from `out/<env>.yaml` to a fresh render.
///
/// # Errors
/// [`Error::Differs`] when they differ; loading, rule and serializer errors.
pub fn run(opts: &Options) -> Result<(), Error> {
    let (source, env) = pipeline::load(&Catalog::new(&opts.environments), &opts.env)?;
    let checked = pipeline::objects(&env, &source.name)?;
    report_lint(&source.name, &checked.lint);
    let fresh = pipeline::render(&source.name, &checked.objects)?;
    let committed_path = opts.out.join(format!("{}.yaml", source.name));
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    let diff = unified(
        &committed,
        &fresh,
        &committed_path.display().to_string(),
        &format!("gen {}", source.name),
    );
    if diff.is_empty() {
        eprintln!("{} is up to date", committed_path.display());
        return Ok(());
    }
    print(&diff)?;
    Err(Error::Differs { env: source.name })
}

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
