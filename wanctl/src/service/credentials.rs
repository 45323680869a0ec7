//! Secrets from systemd credentials (`LoadCredential=`): files in `$CREDENTIALS_DIRECTORY`, readable only by
//! this unit and not inherited by children, unlike environment variables.

use std::path::{Path, PathBuf};

/// Why a credential could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Neither `$CREDENTIALS_DIRECTORY` nor a fallback file is available.
    #[error(
        "credential `{name}`: not started by systemd with LoadCredential={name}:… and no fallback file configured"
    )]
    NotProvided {
        /// Credential name.
        name: String,
    },
    /// The file exists but cannot be read.
    #[error("credential `{name}` at {path}: {source}")]
    Read {
        /// Credential name.
        name: String,
        /// The file tried.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is empty (after removing a trailing newline).
    #[error("credential `{name}` at {path} is empty")]
    Empty {
        /// Credential name.
        name: String,
        /// The file read.
        path: PathBuf,
    },
}

/// Reads credential `name` from `credentials_dir` (normally `$CREDENTIALS_DIRECTORY`), else from `fallback`
/// (development runs). One trailing newline is removed, as editors add one.
///
/// # Errors
/// [`CredentialError`] naming the credential and the file.
pub fn read_credential(
    name: &str,
    credentials_dir: Option<&Path>,
    fallback: Option<&Path>,
) -> Result<String, CredentialError> {
    let path = match (credentials_dir, fallback) {
        (Some(dir), _) => dir.join(name),
        (None, Some(file)) => file.to_path_buf(),
        (None, None) => {
            return Err(CredentialError::NotProvided { name: name.into() });
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|source| CredentialError::Read {
        name: name.into(),
        path: path.clone(),
        source,
    })?;
    let secret = text.strip_suffix('\n').unwrap_or(&text);
    let secret = secret.strip_suffix('\r').unwrap_or(secret);
    if secret.is_empty() {
        return Err(CredentialError::Empty {
            name: name.into(),
            path,
        });
    }
    Ok(secret.to_string())
}

/// [`read_credential`] with `$CREDENTIALS_DIRECTORY` from the environment.
///
/// # Errors
/// As [`read_credential`].
pub fn read_credential_from_env(
    name: &str,
    fallback: Option<&Path>,
) -> Result<String, CredentialError> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    read_credential(name, dir.as_deref(), fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_from_the_credentials_directory_before_the_fallback() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("router-password"), "s3cret\n").unwrap();
        let fallback = dir.path().join("dev-password");
        std::fs::write(&fallback, "dev").unwrap();
        assert_eq!(
            read_credential("router-password", Some(dir.path()), Some(&fallback)).unwrap(),
            "s3cret"
        );
        assert_eq!(
            read_credential("router-password", None, Some(&fallback)).unwrap(),
            "dev"
        );
    }

    #[test]
    fn errors_name_the_credential_and_never_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_credential("router-password", None, None)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("credential `router-password`: not started by systemd"),
            "{error}"
        );
        let error = read_credential("router-password", Some(dir.path()), None)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("router-password") && error.contains(&dir.path().display().to_string()),
            "{error}"
        );
        std::fs::write(dir.path().join("router-password"), "\n").unwrap();
        let error = read_credential("router-password", Some(dir.path()), None)
            .unwrap_err()
            .to_string();
        assert!(error.ends_with("is empty"), "{error}");
    }
}
