//! Keeps the data dir private: it holds the Halo key (in the store), the API token, booking links'
//! digests and the reps' details. On every start the dir and what is in it are narrowed to the service's
//! own user (0700 folders, 0600 files), with a warning naming anything that was wider; the process's
//! umask makes what it creates later private too. Also the rule for API tokens.

use std::path::{Path, PathBuf};

/// The shortest API token a server accepts unless told `--insecure-token`: 32 characters, as long as a
/// 128-bit random value written in hex.
pub const MIN_TOKEN_CHARS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SecureError {
    #[error("cannot make {path} private: {source}")]
    Permissions { path: PathBuf, source: std::io::Error },
    #[error(
        "the API token is {chars} characters long; use at least {MIN_TOKEN_CHARS} (for example the output of \
         `openssl rand -hex 32`), or pass --insecure-token for a throwaway test setup"
    )]
    ShortToken { chars: usize },
}

pub fn check_token(token: &str, insecure_allowed: bool) -> Result<(), SecureError> {
    let chars = token.chars().count();
    if chars < MIN_TOKEN_CHARS && !insecure_allowed {
        return Err(SecureError::ShortToken { chars });
    }
    Ok(())
}

/// Files created from here on are the process user's alone.
pub fn private_umask() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Narrows the data dir and everything under it; returns what was wider than it should have been.
#[cfg(unix)]
pub fn lock_down(data_dir: &Path) -> Result<Vec<PathBuf>, SecureError> {
    use std::os::unix::fs::PermissionsExt;
    let mut widened = Vec::new();
    let mut pending = vec![data_dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let error = |source| SecureError::Permissions {
            path: path.clone(),
            source,
        };
        // Never follow a link out of the data dir.
        let meta = std::fs::symlink_metadata(&path).map_err(error)?;
        if meta.file_type().is_symlink() {
            continue;
        }
        let wanted = if meta.is_dir() { 0o700 } else { 0o600 };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & !0o077 | (wanted & 0o700)))
                .map_err(error)?;
            widened.push(path.clone());
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).map_err(error)? {
                pending.push(entry.map_err(error)?.path());
            }
        }
    }
    Ok(widened)
}

#[cfg(not(unix))]
pub fn lock_down(_data_dir: &Path) -> Result<Vec<PathBuf>, SecureError> {
    Ok(Vec::new())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn secret_files_and_folders_are_narrowed_to_the_owner_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        std::fs::create_dir(&store).unwrap();
        std::fs::write(store.join("db"), b"halo key inside").unwrap();
        std::fs::write(dir.path().join("token"), b"t").unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(store.join("db"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(dir.path().join("token"), std::fs::Permissions::from_mode(0o600)).unwrap();

        let widened = lock_down(dir.path()).unwrap();
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(mode(&store), 0o700);
        assert_eq!(mode(&store.join("db")), 0o600);
        assert_eq!(widened.len(), 3, "the token file was already private: {widened:?}");
        assert!(
            lock_down(dir.path()).unwrap().is_empty(),
            "a second start finds nothing to fix"
        );
    }

    #[test]
    fn secret_tokens_shorter_than_32_characters_are_refused_unless_insecure() {
        assert!(check_token("short-token", false).is_err());
        assert!(check_token("short-token", true).is_ok());
        assert!(check_token(&"x".repeat(32), false).is_ok());
        let message = check_token("abc", false).unwrap_err().to_string();
        assert!(
            message.contains("3 characters") && message.contains("--insecure-token"),
            "{message}"
        );
    }
}
