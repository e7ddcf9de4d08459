//! Outbound HTTP policy for connectors: which hosts a plugin may reach (its declaration intersected with
//! the operator's), checked on the parsed URL before any request leaves; credentials the host injects.
//!
//! Fail closed: an empty intersection denies everything; the destination comes from the URL alone, never
//! from guest headers; loopback is refused unless the operator allows it (the simulator needs it).

use std::net::IpAddr;

use url::Url;

/// One allowed host: `name`, `name:port` or `*.suffix` (matches subdomains only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    host: String,
    port: Option<u16>,
}

impl HostRule {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim().to_ascii_lowercase();
        if text.is_empty() || text.contains('/') || text.contains('@') {
            return Err(format!("'{text}' is not a host: write name, name:port or *.suffix"));
        }
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') && !host.contains(':') => (
                host.to_string(),
                Some(port.parse::<u16>().map_err(|_| format!("bad port in '{text}'"))?),
            ),
            _ => (text.clone(), None),
        };
        if host.starts_with('*') && !host.starts_with("*.") {
            return Err(format!("'{text}': a wildcard must look like *.example.com"));
        }
        Ok(HostRule { host, port })
    }

    pub fn matches(&self, host: &str, port: u16) -> bool {
        self.matches_host(host) && self.port.is_none_or(|p| p == port)
    }

    fn matches_host(&self, host: &str) -> bool {
        match self.host.strip_prefix("*.") {
            Some(suffix) => host
                .strip_suffix(suffix)
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
            None => self.host == host,
        }
    }

    /// Whether everything this (declared) rule allows is also allowed by the operator's `outer` rule.
    fn within(&self, outer: &HostRule) -> bool {
        let host_ok = if self.host.starts_with("*.") {
            outer.host == self.host
        } else {
            outer.matches_host(&self.host)
        };
        host_ok && (outer.port.is_none() || outer.port == self.port)
    }
}

impl std::fmt::Display for HostRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// The operator's side of the policy, from the server's configuration.
#[derive(Debug, Clone, Default)]
pub struct OperatorPolicy {
    /// `None`: every host a plugin declares; `Some`: only those also listed here.
    pub allowed_hosts: Option<Vec<HostRule>>,
    /// Loopback (127.0.0.0/8, ::1, localhost) only when set, e.g. for the Halo simulator.
    pub allow_loopback: bool,
}

/// The effective allowlist of one plugin.
#[derive(Debug, Clone)]
pub struct Egress {
    rules: Vec<HostRule>,
    allow_loopback: bool,
}

pub fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Egress {
    pub fn new(declared: &[String], operator: &OperatorPolicy) -> Self {
        let rules = declared
            .iter()
            .filter_map(|text| HostRule::parse(text).ok())
            .filter(|rule| match &operator.allowed_hosts {
                None => true,
                Some(outer) => outer.iter().any(|o| rule.within(o)),
            })
            .collect();
        Egress {
            rules,
            allow_loopback: operator.allow_loopback,
        }
    }

    pub fn rules(&self) -> Vec<String> {
        self.rules.iter().map(ToString::to_string).collect()
    }

    /// Checks a URL; the error says why it was refused.
    pub fn check(&self, url: &Url) -> Result<(), String> {
        let host = url
            .host_str()
            .ok_or_else(|| format!("{url} has no host"))?
            .to_ascii_lowercase();
        if !url.username().is_empty() || url.password().is_some() {
            return Err("URLs with user info are not allowed".into());
        }
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("{url} has no port"))?;
        let loopback = is_loopback(&host);
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            scheme => return Err(format!("scheme {scheme} is not allowed for {host}; use https")),
        }
        if loopback && !self.allow_loopback {
            return Err(format!(
                "{host} is a loopback address and the operator has not allowed loopback for plugins"
            ));
        }
        if self.rules.iter().any(|rule| rule.matches(&host, port)) {
            Ok(())
        } else {
            Err(format!(
                "{host}:{port} is not among the hosts this plugin may reach ({})",
                self.rules().join(", ")
            ))
        }
    }
}

/// A connector's declared hosts with each `{setting}` replaced by the `host:port` of the URL that setting
/// holds for this clinic (dropped when the setting is empty or not a URL): the clinic names its own server.
pub fn resolve_declared(declared: &[String], setting: impl Fn(&str) -> Option<String>) -> Vec<String> {
    declared
        .iter()
        .filter_map(
            |entry| match entry.strip_prefix('{').and_then(|e| e.strip_suffix('}')) {
                None => Some(entry.clone()),
                Some(name) => setting(name)
                    .and_then(|value| Url::parse(value.trim()).ok())
                    .and_then(|url| Some(format!("{}:{}", url.host_str()?, url.port_or_known_default()?))),
            },
        )
        .collect()
}

/// `scheme://host:port` of a URL, for matching credentials to the origin they belong to.
pub fn origin_of(url: &Url) -> Option<String> {
    Some(format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn egress(declared: &[&str], operator: Option<&[&str]>, loopback: bool) -> Egress {
        let operator = OperatorPolicy {
            allowed_hosts: operator.map(|list| list.iter().map(|h| HostRule::parse(h).unwrap()).collect()),
            allow_loopback: loopback,
        };
        Egress::new(&declared.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &operator)
    }

    fn check(e: &Egress, url: &str) -> Result<(), String> {
        e.check(&Url::parse(url).unwrap())
    }

    #[test]
    fn declared_hosts_intersected_with_operator_hosts() {
        let e = egress(
            &["api.haloconnect.io", "api.stage.haloconnect.io"],
            Some(&["api.haloconnect.io"]),
            false,
        );
        assert!(check(&e, "https://api.haloconnect.io/integrator/sites").is_ok());
        assert!(check(&e, "https://api.stage.haloconnect.io/x").is_err());
        assert!(check(&e, "https://evil.example/x").is_err());
        assert!(check(&e, "http://api.haloconnect.io/x").unwrap_err().contains("https"));
        assert!(check(&e, "https://user:pw@api.haloconnect.io/").is_err());
    }

    #[test]
    fn a_declared_setting_allows_exactly_the_host_and_port_the_clinic_named() {
        let declared = vec![
            "{server_url}".to_string(),
            "{missing}".to_string(),
            "fixed.example".to_string(),
        ];
        let resolved = resolve_declared(&declared, |name| {
            (name == "server_url").then(|| "https://cal.clinic.example:8443/dav/clinic/".to_string())
        });
        assert_eq!(
            resolved,
            vec!["cal.clinic.example:8443".to_string(), "fixed.example".to_string()]
        );
        let e = Egress::new(&resolved, &OperatorPolicy::default());
        assert!(check(&e, "https://cal.clinic.example:8443/dav/clinic/rep-visits/").is_ok());
        assert!(check(&e, "https://cal.clinic.example/dav/").is_err(), "another port");
        assert!(check(&e, "https://other.example:8443/").is_err());
        // The operator's list still narrows what a clinic can name.
        let operator = OperatorPolicy {
            allowed_hosts: Some(vec![HostRule::parse("*.haloconnect.io").unwrap()]),
            allow_loopback: false,
        };
        assert!(check(&Egress::new(&resolved, &operator), "https://cal.clinic.example:8443/").is_err());
    }

    #[test]
    fn empty_lists_fail_closed_and_wildcards_need_a_dot() {
        assert!(check(&egress(&[], None, false), "https://api.haloconnect.io/").is_err());
        let e = egress(&["*.haloconnect.io"], None, false);
        assert!(check(&e, "https://api.haloconnect.io/").is_ok());
        assert!(check(&e, "https://haloconnect.io/").is_err());
        assert!(check(&e, "https://evilhaloconnect.io/").is_err());
        assert!(HostRule::parse("*haloconnect.io").is_err());
    }

    #[test]
    fn loopback_only_when_the_operator_allows_it() {
        let e = egress(&["127.0.0.1"], None, false);
        assert!(check(&e, "http://127.0.0.1:8080/").unwrap_err().contains("loopback"));
        let e = egress(&["127.0.0.1"], None, true);
        assert!(check(&e, "http://127.0.0.1:8080/").is_ok());
        assert!(
            check(&e, "http://localhost:8080/").is_err(),
            "localhost was not declared"
        );
        let e = egress(&["127.0.0.1:9000"], None, true);
        assert!(check(&e, "http://127.0.0.1:9001/").is_err());
    }
}
