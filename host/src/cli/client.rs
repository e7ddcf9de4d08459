//! The CLI's HTTP client: finds the server and token, sends the API's typed bodies, reads its typed
//! answers, and turns the error envelope into a message.

use std::path::Path;
use std::process::ExitCode;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ClientArgs;
use crate::api::TOKEN_FILE;
use crate::server::{ADDR_FILE, DEFAULT_LISTEN};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{message} ({code}, HTTP {status})")]
    Refused { status: u16, code: String, message: String },
    #[error("cannot reach repbook at {url}: {source}; is `repbook serve` running?")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("repbook at {url} answered something this CLI cannot read: {message}")]
    Unreadable { url: String, message: String },
    #[error("{0:#}")]
    Local(anyhow::Error),
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Refused { .. } => ExitCode::from(1),
            CliError::Unreachable { .. } | CliError::Unreadable { .. } | CliError::Local(_) => ExitCode::from(3),
        }
    }
}

pub struct Client {
    http: reqwest::Client,
    base: url::Url,
    token: String,
}

/// A refusal in the error envelope (or, from something that is not repbook, its first words).
fn refused(status: reqwest::StatusCode, text: &str) -> CliError {
    let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let error = &value["error"];
    CliError::Refused {
        status: status.as_u16(),
        code: error["code"].as_str().unwrap_or("http_error").to_string(),
        message: error["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| text.chars().take(300).collect()),
    }
}

impl Client {
    pub fn new(base: &str, token: &str) -> Result<Self, CliError> {
        let base = url::Url::parse(base.trim_end_matches('/')).map_err(|e| {
            CliError::Local(anyhow::anyhow!(
                "--server '{base}' is not a URL ({e}); write e.g. http://127.0.0.1:7878"
            ))
        })?;
        Ok(Client {
            http: reqwest::Client::new(),
            base,
            token: token.to_string(),
        })
    }

    /// Server and token from flags/env, else from the data dir a local server writes.
    pub fn discover(data_dir: &Path, args: &ClientArgs) -> Result<Self, CliError> {
        let base = match &args.server {
            Some(url) => url.to_string(),
            None => match std::fs::read_to_string(data_dir.join(ADDR_FILE)) {
                Ok(addr) => format!("http://{}", addr.trim()),
                Err(_) => format!("http://{DEFAULT_LISTEN}"),
            },
        };
        let token = match &args.token {
            Some(token) => token.to_string(),
            None => std::fs::read_to_string(data_dir.join(TOKEN_FILE))
                .map(|t| t.trim().to_string())
                .map_err(|e| {
                    CliError::Local(anyhow::anyhow!(
                        "no API token: pass --token or set REPBOOK_TOKEN, or point --data-dir at the server's data dir \
                         ({}: {e})",
                        data_dir.join(TOKEN_FILE).display()
                    ))
                })?,
        };
        Client::new(&base, &token)
    }

    /// A server-relative path (such as a booking link's `/book/...`) as the full URL to hand out.
    pub fn absolute(&self, path: &str) -> String {
        self.base
            .join(path)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| path.to_string())
    }

    fn url(&self, segments: &[&str]) -> url::Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("api").push("v1").extend(segments);
        }
        url
    }

    async fn send<T: DeserializeOwned>(&self, url: url::Url, request: reqwest::RequestBuilder) -> Result<T, CliError> {
        let shown = url.to_string();
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|source| CliError::Unreachable {
                url: shown.clone(),
                source,
            })?;
        let status = response.status();
        let text = response.text().await.map_err(|source| CliError::Unreachable {
            url: shown.clone(),
            source,
        })?;
        if !status.is_success() {
            return Err(refused(status, &text));
        }
        let text = if text.trim().is_empty() { "null" } else { text.as_str() };
        serde_json::from_str(text).map_err(|e| CliError::Unreadable {
            url: shown,
            message: e.to_string(),
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, CliError> {
        let url = self.url(segments);
        self.send(url.clone(), self.http.get(url)).await
    }

    pub async fn get_query<T: DeserializeOwned, Q: Serialize>(
        &self,
        segments: &[&str],
        query: &Q,
    ) -> Result<T, CliError> {
        let url = self.url(segments);
        self.send(url.clone(), self.http.get(url).query(query)).await
    }

    pub async fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        segments: &[&str],
        body: &B,
    ) -> Result<T, CliError> {
        let url = self.url(segments);
        self.send(url.clone(), self.http.request(method, url).json(body)).await
    }

    pub async fn post<T: DeserializeOwned, B: Serialize>(&self, segments: &[&str], body: &B) -> Result<T, CliError> {
        self.call(Method::POST, segments, body).await
    }

    pub async fn patch<T: DeserializeOwned, B: Serialize>(&self, segments: &[&str], body: &B) -> Result<T, CliError> {
        self.call(Method::PATCH, segments, body).await
    }

    /// A DELETE whose answer is a body to read.
    pub async fn delete_json<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, CliError> {
        let url = self.url(segments);
        self.send(url.clone(), self.http.delete(url)).await
    }

    pub async fn delete(&self, segments: &[&str]) -> Result<(), CliError> {
        let url = self.url(segments);
        self.send::<Value>(url.clone(), self.http.delete(url)).await.map(|_| ())
    }

    /// Fetches a binary answer (a backup), with the envelope's message on refusal.
    pub async fn get_bytes(&self, segments: &[&str]) -> Result<Vec<u8>, CliError> {
        let url = self.url(segments);
        let shown = url.to_string();
        let unreachable = |source| CliError::Unreachable {
            url: shown.clone(),
            source,
        };
        let response = self
            .http
            .get(url.clone())
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.map_err(unreachable)?;
            return Err(refused(status, &text));
        }
        Ok(response.bytes().await.map_err(unreachable)?.to_vec())
    }

    /// Sends raw bytes (a component) as `application/wasm`.
    pub async fn post_bytes<T: DeserializeOwned>(&self, segments: &[&str], bytes: Vec<u8>) -> Result<T, CliError> {
        let url = self.url(segments);
        let request = self
            .http
            .post(url.clone())
            .header("content-type", "application/wasm")
            .body(bytes);
        self.send(url, request).await
    }
}
