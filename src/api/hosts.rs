//! The `Host` check against DNS rebinding. A web page on `attacker.example` can re-point its
//! own name at 127.0.0.1 and then call a server on this machine as "same origin"; the browser
//! still sends `Host: attacker.example`, so refusing unknown names (421 `host_not_allowed`)
//! keeps such pages from reading or driving the API.
//!
//! Rebinding needs a DNS name, so an IP address in `Host` is never an attack on its own: it is
//! accepted when the server listens on a non-loopback address, and when it is a loopback
//! address (the only ones a browser reaches a loopback listener by).

use super::AppState;
use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};

/// Which `Host` values a server answers.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum HostPolicy {
    /// `localhost`, loopback addresses and the listed names (the default, on a loopback bind).
    #[default]
    Loopback,
    /// `localhost`, any IP address and the listed names (a non-loopback bind).
    Network,
    /// Anything (`--allowed-hosts '*'`, or a non-loopback bind with a token and no list).
    Any,
}

/// The policy with the extra names of `--allowed-hosts`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AllowedHosts {
    pub policy: HostPolicy,
    /// Lower-case host names without a port.
    pub names: Vec<String>,
}

impl AllowedHosts {
    /// What a server bound to `bind` accepts. `listed` is `--allowed-hosts` (`*`: anything);
    /// with a token and no list, a network server accepts any name: mutations need the token,
    /// which a foreign page cannot know, and reads are open to the network anyway.
    pub fn for_bind(bind: SocketAddr, listed: &[String], token_required: bool) -> AllowedHosts {
        let names: Vec<String> = listed
            .iter()
            .filter_map(|h| host_name(h.trim()))
            .filter(|h| !h.is_empty())
            .collect();
        let policy = if names.iter().any(|n| n == "*") {
            HostPolicy::Any
        } else if bind.ip().is_loopback() {
            HostPolicy::Loopback
        } else if token_required && names.is_empty() {
            HostPolicy::Any
        } else {
            HostPolicy::Network
        };
        AllowedHosts { policy, names }
    }

    /// Whether a request with this `Host` value is answered.
    pub fn allows(&self, host: &str) -> bool {
        if self.policy == HostPolicy::Any {
            return true;
        }
        let Some(name) = host_name(host) else {
            return false;
        };
        if name == "localhost" || self.names.contains(&name) {
            return true;
        }
        match name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => ip.is_loopback() || self.policy == HostPolicy::Network,
            Err(_) => false,
        }
    }
}

/// The host part of a `Host` value (`name`, `name:port`, `[v6]`, `[v6]:port`), lower-cased;
/// `None` when it is malformed.
fn host_name(host: &str) -> Option<String> {
    let host = host.to_ascii_lowercase();
    if let Some(rest) = host.strip_prefix('[') {
        let end = rest.find(']')?;
        let after = &rest[end + 1..];
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return Some(format!("[{}]", &rest[..end]));
    }
    match host.split_once(':') {
        Some((name, port)) if is_port(port) => Some(name.to_string()),
        Some(_) => None,
        None => Some(host),
    }
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Refuses requests whose `Host` (or HTTP/2 authority) this server does not answer for.
pub async fn check_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let allowed = &state.config.allowed_hosts;
    if allowed.policy != HostPolicy::Any {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| request.uri().authority().map(|a| a.as_str()))
            .unwrap_or("");
        if !allowed.allows(host) {
            return ApiError::HostNotAllowed(format!(
                "this server does not answer for Host {host:?}; use localhost or its address, \
                 or add the name to --allowed-hosts"
            ))
            .into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> AllowedHosts {
        AllowedHosts::for_bind("127.0.0.1:8080".parse().unwrap(), &[], false)
    }

    #[test]
    fn a_loopback_server_answers_loopback_names_only() {
        let hosts = loopback();
        for ok in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.0.0.1:9999",
            "[::1]",
            "[::1]:8080",
        ] {
            assert!(hosts.allows(ok), "{ok}");
        }
        for refused in [
            "attacker.example",
            "attacker.example:8080",
            "localhost.attacker.example",
            "localhost.",
            "192.168.1.5",
            "",
            "localhost:x",
            "[::1",
            "127.0.0.1:8080:1",
        ] {
            assert!(!hosts.allows(refused), "{refused}");
        }
    }

    #[test]
    fn listed_names_and_network_binds() {
        let listed = ["Lab.Example:8080".to_string()];
        let hosts = AllowedHosts::for_bind("127.0.0.1:8080".parse().unwrap(), &listed, false);
        assert!(hosts.allows("lab.example"));
        assert!(!hosts.allows("other.example"));

        let network = AllowedHosts::for_bind("0.0.0.0:8080".parse().unwrap(), &listed, true);
        assert_eq!(network.policy, HostPolicy::Network);
        assert!(network.allows("192.168.1.5:8080") && network.allows("lab.example"));
        assert!(!network.allows("attacker.example"));

        let open = AllowedHosts::for_bind("0.0.0.0:8080".parse().unwrap(), &[], true);
        assert!(open.allows("anything.example"));
        let unauthenticated = AllowedHosts::for_bind("0.0.0.0:8080".parse().unwrap(), &[], false);
        assert!(!unauthenticated.allows("attacker.example"));
        let star = AllowedHosts::for_bind("127.0.0.1:1".parse().unwrap(), &["*".into()], false);
        assert!(star.allows("anything.example"));
    }
}
