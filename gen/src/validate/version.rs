//! Kubernetes versions as both validators want them: `MAJOR.MINOR.PATCH` without a `v`.
//! kubeconform builds its schema URL from the string (`v1.33.0-standalone-strict`), so
//! `1.33` would silently find no schema; kubernetes-validate accepts either form.

use super::ValidateError;

/// `1.33` → `1.33.0`; `v1.33.2` → `1.33.2`; anything else that is not two or three
/// dot-separated numbers is refused.
///
/// # Errors
/// [`ValidateError::Version`] naming what was given.
pub fn normalise(version: &str) -> Result<String, ValidateError> {
    let trimmed = version.trim();
    let bare = trimmed.strip_prefix('v').unwrap_or(trimmed);
    let parts: Vec<&str> = bare.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(numeric) {
        return Err(ValidateError::Version {
            given: version.to_owned(),
        });
    }
    let patch = parts.get(2).copied().unwrap_or("0");
    Ok(format!("{}.{}.{patch}", parts[0], parts[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_minor_and_patch_forms_with_or_without_v() {
        assert_eq!(normalise("1.33").unwrap(), "1.33.0");
        assert_eq!(normalise("1.33.0").unwrap(), "1.33.0");
        assert_eq!(normalise("v1.37").unwrap(), "1.37.0");
        assert_eq!(normalise(" 1.35.2 ").unwrap(), "1.35.2");
    }

    #[test]
    fn refuses_what_no_validator_understands() {
        for bad in [
            "", "1", "1.33.0.1", "latest", "1.x", "1..0", "v", "1.33-rc1",
        ] {
            let err = normalise(bad).unwrap_err();
            assert!(
                err.to_string().contains(&format!("`{bad}`")),
                "{bad}: {err}"
            );
        }
    }
}
