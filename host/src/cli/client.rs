//! The CLI's HTTP client: finds the server and token, sends JSON, turns the error envelope into a message.

use std::path::Path;
use std::process::ExitCode;

use reqwest::Method;
use serde_json::Value;

use crate::api::{ADDR_FILE, DEFAULT_LISTEN, TOKEN_FILE};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{message} ({code}, HTTP {status})")]
    Refused { status: u16, code: String, message: String },
    #[error("cannot reach repbook at {url}: {source}; is `repbook serve` running?")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("{0:#}")]
    Local(anyhow::Error),
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Refused { .. } => ExitCode::from(1),
            CliError::Unreachable { .. } | CliError::Local(_) => ExitCode::from(3),
        }
    }
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    pub fn new(base: &str, token: &str) -> Self {
        Client {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        }
    }

    /// Server and token from flags/env, else from the data dir a local server writes.
    pub fn discover(data_dir: &Path, server: Option<&str>, token: Option<&str>) -> Result<Self, CliError> {
        let base = match server {
            Some(url) => url.to_string(),
            None => match std::fs::read_to_string(data_dir.join(ADDR_FILE)) {
                Ok(addr) => format!("http://{}", addr.trim()),
                Err(_) => format!("http://{DEFAULT_LISTEN}"),
            },
        };
        let token = match token {
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
        Ok(Client::new(&base, &token))
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, CliError> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut request = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.finish(url, request).await
    }

    async fn finish(&self, url: String, request: reqwest::RequestBuilder) -> Result<Value, CliError> {
        let response = request.send().await.map_err(|source| CliError::Unreachable {
            url: url.clone(),
            source,
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|source| CliError::Unreachable { url, source })?;
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(value);
        }
        let error = &value["error"];
        Err(CliError::Refused {
            status: status.as_u16(),
            code: error["code"].as_str().unwrap_or("http_error").to_string(),
            message: error["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string()),
        })
    }

    /// Sends raw bytes (a component) as `application/wasm`.
    pub async fn send_bytes(&self, path: &str, bytes: Vec<u8>) -> Result<Value, CliError> {
        let url = format!("{}/api/v1{path}", self.base);
        let request = self
            .http
            .post(&url)
            .bearer_auth(&self.token)
            .header("content-type", "application/wasm")
            .body(bytes);
        self.finish(url, request).await
    }

    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value, CliError> {
        self.send(Method::POST, path, Some(body)).await
    }
}
