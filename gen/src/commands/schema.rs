//! `gen schema`: the JSON schema of environment files.

use super::{Error, print};

/// Prints the schema.
///
/// # Errors
/// A failed write to stdout.
pub fn run() -> Result<(), Error> {
    print(&crate::schema::environment_schema())
}
