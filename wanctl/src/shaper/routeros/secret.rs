//! The router password: read from a systemd credential or a private file, never from the environment,
//! never printed.

use std::{
    fmt,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use super::{config::RouterOsConfig, error::RouterOsError};

/// A password whose `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password (tests and callers that obtained it elsewhere).
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The secret itself, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Reads the configured password; `$CREDENTIALS_DIRECTORY` comes from the environment (systemd sets it).
///
/// # Errors
/// [`RouterOsError::Secret`] naming the file when it is missing, unreadable, empty or not private.
pub fn load_password(config: &RouterOsConfig) -> Result<Password, RouterOsError> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    load_password_from(config, dir.as_deref())
}

/// Like [`load_password`] with the credentials directory passed in.
///
/// # Errors
/// As [`load_password`].
pub fn load_password_from(
    config: &RouterOsConfig,
    credentials_dir: Option<&Path>,
) -> Result<Password, RouterOsError> {
    match (&config.password_credential, &config.password_file) {
        (Some(name), _) => {
            let dir = credentials_dir.ok_or_else(|| {
                RouterOsError::Secret(format!(
                    "password_credential `{name}`: $CREDENTIALS_DIRECTORY is not set \
                     (run under systemd with LoadCredential={name}:<file>)"
                ))
            })?;
            // systemd makes the directory private to the service; the mode check is for files only.
            read_secret(&dir.join(name), false)
        }
        (None, Some(path)) => read_secret(path, true),
        (None, None) => Err(RouterOsError::Secret(
            "set password_credential or password_file".to_string(),
        )),
    }
}

fn read_secret(path: &Path, require_private: bool) -> Result<Password, RouterOsError> {
    let shown = path.display();
    let meta =
        std::fs::metadata(path).map_err(|e| RouterOsError::Secret(format!("{shown}: {e}")))?;
    let mode = meta.permissions().mode() & 0o777;
    if require_private && mode & 0o077 != 0 {
        return Err(RouterOsError::Secret(format!(
            "{shown} has mode {mode:04o}: group or others can read it; run `chmod 600 {shown}`"
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| RouterOsError::Secret(format!("{shown}: {e}")))?;
    let password = text.strip_suffix('\n').unwrap_or(&text);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(RouterOsError::Secret(format!("{shown} is empty")));
    }
    Ok(Password(password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_secret() {
        let p = Password::new("hunter2");
        assert!(!format!("{p:?}").contains("hunter2"));
        assert!(!format!("{p}").contains("hunter2"));
        assert_eq!(p.expose(), "hunter2");
    }
}
