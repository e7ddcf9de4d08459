//! The API token: the token file in the data dir (created 0600 on first start) or `REPBOOK_TOKEN`; checked
//! as a bearer token, or through an admin-page session (`session`).

use std::io::Write;
use std::path::Path;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::error::ApiError;

pub const TOKEN_FILE: &str = "token";

/// The token in force: `REPBOOK_TOKEN` when set, else the data dir's token file, created if missing.
pub fn load_or_create_token(data_dir: &Path, env_token: Option<String>) -> std::io::Result<String> {
    if let Some(token) = env_token.filter(|t| !t.trim().is_empty()) {
        return Ok(token.trim().to_string());
    }
    let path = data_dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let token: String = {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    Ok(token)
}

/// Lets the request through with the bearer token, or with an admin-page session (and its CSRF token).
pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    super::session::authenticate(&state, request.method(), request.headers())?;
    Ok(next.run(request).await)
}
