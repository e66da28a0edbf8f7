//! `gen list`: the environments, one name per line.

use std::path::Path;

use super::{Error, print};
use crate::catalog::Catalog;

/// Prints every environment name in `environments`, sorted.
///
/// # Errors
/// The folder cannot be listed; a failed write to stdout.
pub fn run(environments: &Path) -> Result<(), Error> {
    let names = Catalog::new(environments).names()?;
    print(&names.iter().map(|n| format!("{n}\n")).collect::<String>())
}
