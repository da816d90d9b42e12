//! A deliberately small URL splitter for web-fetch: scheme (http/https), authority and
//! path-with-query, which is all wasi:http's outgoing-request needs. The host's egress policy,
//! not this parser, decides what may be reached.

//! [`Target`]: the parts of an `http(s)://` URL that an outgoing request is made of.

/// Where a request goes.
#[derive(Debug, PartialEq)]
pub struct Target {
    /// `https://` rather than `http://`.
    pub https: bool,
    /// `host[:port]`, host lowercased (IPv6 in brackets).
    pub authority: String,
    /// The host alone (no port).
    pub host: String,
    /// The port, explicit or the scheme's default.
    pub port: u16,
    /// `/path?query` (at least `/`), without the fragment.
    pub path_and_query: String,
}

impl Target {
    /// Splits `url`; the error names the field `url` and says what is wrong.
    pub fn parse(url: &str) -> Result<Target, String> {
        let bad = |why: &str| format!("field `url`: `{url}` {why}");
        let (scheme, rest) = url
            .trim()
            .split_once("://")
            .ok_or_else(|| bad("is not an absolute URL; write it as https://host/path"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return Err(bad("has an unsupported scheme; use http:// or https://")),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err(bad("contains user credentials (`user@`); remove them"));
        }
        if authority.is_empty() {
            return Err(bad("has no host"));
        }
        if tail.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(
                "contains spaces or control characters; percent-encode them",
            ));
        }
        let (host, port) = split_port(authority).ok_or_else(|| bad("has an invalid port"))?;
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '%') {
            return Err(bad("has an invalid host"));
        }
        let port = port.unwrap_or(if https { 443 } else { 80 });
        let path_and_query = match tail {
            "" => "/".to_owned(),
            t if t.starts_with('?') => format!("/{t}"),
            t => t.to_owned(),
        };
        Ok(Target {
            https,
            authority: authority.to_ascii_lowercase(),
            host: host.to_ascii_lowercase(),
            port,
            path_and_query,
        })
    }

    /// `scheme://host:port`, as written in the skill's `hosts` grant.
    pub fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }
}

/// Splits `host[:port]` (IPv6 in brackets); `None` for a port that is not 1..=65535.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, tail) = authority.split_at(close + 1);
        match tail {
            "" => (host, None),
            t => (host, Some(t.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    match port {
        None => Some((host, None)),
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .map(|p| (host, Some(p))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        let t = Target::parse("http://[::1]:8080?x=1").unwrap();
        assert_eq!(t.authority, "[::1]:8080");
        assert_eq!((t.host.as_str(), t.port), ("[::1]", 8080));
        assert_eq!(t.path_and_query, "/?x=1");
        assert_eq!(t.origin(), "http://[::1]:8080");
        let t = Target::parse("HTTPS://API.example.com/v1/x?q=a%20b#top").unwrap();
        assert_eq!(t.origin(), "https://api.example.com:443");
        assert_eq!(t.path_and_query, "/v1/x?q=a%20b");
    }

    #[test]
    fn rejects_what_cannot_be_sent() {
        for (url, hint) in [
            ("example.com", "absolute URL"),
            ("file:///etc/passwd", "unsupported scheme"),
            ("https://user:pw@x.com/", "credentials"),
            ("https:///path", "no host"),
            ("https://x.com:99999/", "invalid port"),
            ("https://x.com/a b", "percent-encode"),
        ] {
            let err = Target::parse(url).expect_err(url);
            assert!(
                err.contains(hint) && err.starts_with("field `url`"),
                "{url}: {err}"
            );
        }
    }
}
