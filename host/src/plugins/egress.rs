//! Outbound HTTP policy for connectors: which hosts a plugin may reach (its declaration intersected with
//! the operator's), checked on the parsed URL before any request leaves; credentials the host injects.
//!
//! Fail closed: an empty intersection denies everything; the destination comes from the URL alone, never
//! from guest headers. Where an address leads is decided on the address itself: on the URL's text when it
//! is an IP literal, and on every address a name resolves to (`PolicyResolver`, the HTTP client's only
//! resolver), so neither `0.0.0.0`, `127.1`, `[::ffff:7f00:1]` nor a name that resolves to loopback gets
//! round the rule. Loopback (and the unspecified address, which connects to this machine) needs
//! `--plugin-allow-loopback` (the simulator needs it); private and link-local ranges (a LAN, a cloud's
//! metadata service at 169.254.169.254) need `--plugin-allow-private-network`.

use std::net::{IpAddr, SocketAddr};

use url::Url;

/// Where an address leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Public,
    /// This machine: loopback, the unspecified address and 0.0.0.0/8.
    Loopback,
    /// The local network: RFC 1918, shared (100.64/10), link-local, IPv6 unique-local and link-local.
    Private,
}

impl Reach {
    pub fn of(ip: IpAddr) -> Reach {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let [a, b, ..] = v4.octets();
                if v4.is_loopback() || a == 0 {
                    Reach::Loopback
                } else if v4.is_private() || v4.is_link_local() || (a == 100 && (64..128).contains(&b)) {
                    Reach::Private
                } else {
                    Reach::Public
                }
            }
            IpAddr::V6(v6) => {
                let first = v6.segments()[0];
                if v6.is_loopback() || v6.is_unspecified() {
                    Reach::Loopback
                } else if (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80 {
                    Reach::Private
                } else {
                    Reach::Public
                }
            }
        }
    }
}

/// What the operator allows beyond the public internet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reachable {
    pub loopback: bool,
    pub private: bool,
}

impl Reachable {
    /// `Err(why)` when `ip` is somewhere the operator has not allowed.
    pub fn check(&self, shown: &str, ip: IpAddr) -> Result<(), String> {
        match Reach::of(ip) {
            Reach::Public => Ok(()),
            Reach::Loopback if self.loopback => Ok(()),
            Reach::Private if self.private => Ok(()),
            Reach::Loopback => Err(format!(
                "{shown} is a loopback address ({ip}) and the operator has not allowed loopback for plugins (--plugin-allow-loopback)"
            )),
            Reach::Private => Err(format!(
                "{shown} is a private or link-local address ({ip}) and the operator has not allowed the private network for plugins (--plugin-allow-private-network)"
            )),
        }
    }
}

/// A name resolved to an address the operator has not allowed: the request is refused before connecting.
#[derive(Debug)]
pub struct RefusedAddress(pub String);

impl std::fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefusedAddress {}

/// The plugins' HTTP client's resolver: the system's answer, without the addresses the operator has not
/// allowed; a name left with none is refused with the reason.
#[derive(Debug, Clone, Copy)]
pub struct PolicyResolver(pub Reachable);

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let reachable = self.0;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| match reachable.check(&host, addr.ip()) {
                    Ok(()) => true,
                    Err(why) => {
                        refusal.get_or_insert(why);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let why = refusal.unwrap_or_else(|| format!("{host} has no address"));
                return Err(Box::new(RefusedAddress(why)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

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
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            // An IPv6 literal, written as URLs write it, in the URL parser's canonical form.
            let (inside, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("'{text}': an IPv6 address is written [address] or [address]:port"))?;
            let ip: std::net::Ipv6Addr = inside
                .parse()
                .map_err(|_| format!("'{text}': '{inside}' is not an IPv6 address"))?;
            let port = match after.strip_prefix(':') {
                Some(port) => Some(port.parse::<u16>().map_err(|_| format!("bad port in '{text}'"))?),
                None if after.is_empty() => None,
                None => return Err(format!("'{text}' is not a host: write [address] or [address]:port")),
            };
            let canonical = Url::parse(&format!("http://[{ip}]/"))
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| format!("[{ip}]"));
            (canonical, port)
        } else {
            match text.rsplit_once(':') {
                Some((host, port)) if !host.contains(':') => (
                    host.to_string(),
                    Some(port.parse::<u16>().map_err(|_| format!("bad port in '{text}'"))?),
                ),
                _ => (text.clone(), None),
            }
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
    /// Loopback (127.0.0.0/8, ::1, localhost, the unspecified address) only when set, e.g. for the Halo
    /// simulator.
    pub allow_loopback: bool,
    /// Private and link-local ranges only when set, e.g. for a CalDAV server on the clinic's network.
    pub allow_private: bool,
}

impl OperatorPolicy {
    pub fn reachable(&self) -> Reachable {
        Reachable {
            loopback: self.allow_loopback,
            private: self.allow_private,
        }
    }
}

/// The effective allowlist of one plugin.
#[derive(Debug, Clone)]
pub struct Egress {
    rules: Vec<HostRule>,
    reachable: Reachable,
}

/// The IP address a URL host names literally, if it does.
fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Whether `host` is this machine by its text alone (a literal, or a `localhost` name).
pub fn is_loopback(host: &str) -> bool {
    let name = host.trim_end_matches('.');
    name == "localhost"
        || name.ends_with(".localhost")
        || literal_ip(host).is_some_and(|ip| Reach::of(ip) == Reach::Loopback)
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
            reachable: operator.reachable(),
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
        if let Some(ip) = literal_ip(&host) {
            self.reachable.check(&host, ip)?;
        } else if loopback && !self.reachable.loopback {
            return Err(format!(
                "{host} is a loopback address and the operator has not allowed loopback for plugins (--plugin-allow-loopback)"
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
            allow_private: false,
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
            ..Default::default()
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

    /// Each spelling of this machine, and each private range, is decided on the address it means.
    #[test]
    fn addresses_are_judged_by_where_they_lead_whatever_their_spelling() {
        for (url, reach) in [
            ("https://0.0.0.0:8443/", "loopback"),
            ("https://0:8443/", "loopback"),
            ("https://127.1:8443/", "loopback"),
            ("https://[::]:8443/", "loopback"),
            ("https://[::1]:8443/", "loopback"),
            ("https://[::ffff:7f00:1]:8443/", "loopback"),
            ("https://10.1.2.3:8443/", "private"),
            ("https://172.20.0.5:8443/", "private"),
            ("https://192.168.1.10:8443/", "private"),
            ("https://169.254.169.254:8443/", "link-local"),
            ("https://100.64.0.1:8443/", "private"),
            ("https://[fd00::1]:8443/", "private"),
            ("https://[fe80::1]:8443/", "link-local"),
        ] {
            let url = Url::parse(url).unwrap();
            let host_port = format!("{}:8443", url.host_str().unwrap());
            let e = Egress::new(std::slice::from_ref(&host_port), &OperatorPolicy::default());
            let refused = e.check(&url).expect_err(url.as_str());
            assert!(refused.contains(reach), "{url}: {refused}");
            let open = OperatorPolicy {
                allow_loopback: true,
                allow_private: true,
                ..Default::default()
            };
            assert_eq!(Egress::new(&[host_port], &open).check(&url), Ok(()), "{url}");
        }
        assert!(is_loopback("localhost.") && is_loopback("api.localhost"));
        assert_eq!(Reach::of("203.0.113.9".parse().unwrap()), Reach::Public);
        assert_eq!(Reach::of("2001:db8::1".parse().unwrap()), Reach::Public);
    }

    /// IPv6 literals in a declaration or the operator's list match the URL's canonical spelling.
    #[test]
    fn ipv6_literals_match_in_any_spelling() {
        let rule = HostRule::parse("[::FFFF:127.0.0.1]:18750").unwrap();
        assert!(rule.matches("[::ffff:7f00:1]", 18750));
        assert!(!rule.matches("[::ffff:7f00:1]", 18751));
        assert!(HostRule::parse("[2001:db8::1]").unwrap().matches("[2001:db8::1]", 443));
        assert!(HostRule::parse("[not-v6]:1").is_err());
        let declared = resolve_declared(&["{server_url}".to_string()], |_| {
            Some("http://[::ffff:127.0.0.1]:18750/dav/".to_string())
        });
        let open = OperatorPolicy {
            allow_loopback: true,
            ..Default::default()
        };
        let url = Url::parse("http://[::ffff:127.0.0.1]:18750/dav/cal/").unwrap();
        assert_eq!(Egress::new(&declared, &open).check(&url), Ok(()));
    }
}
