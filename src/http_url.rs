//! Checks of the URLs users type for API servers, proxies and endpoints: `http(s)://host[:port][/path]`,
//! nothing else, so a typo fails at plan rather than as an unreachable cluster in Argo CD.

/// Why a string is not an acceptable server URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("must start with https:// or http://")]
    Scheme,
    #[error("has no host after the scheme")]
    NoHost,
    #[error("must not contain user information ('@')")]
    UserInfo,
    #[error("has an invalid host {0:?}")]
    BadHost(String),
    #[error("has an invalid port {0:?}")]
    BadPort(String),
    #[error("must not contain spaces, a query ('?') or a fragment ('#')")]
    TrailingJunk,
}

/// Checks `url` is `http://` or `https://`, a host (name, IPv4 or bracketed IPv6), an optional
/// port and an optional path.
pub fn check_http_url(url: &str) -> Result<(), UrlError> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or(UrlError::Scheme)?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if path.chars().any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
        || authority.chars().any(|c| c.is_whitespace() || c == '?' || c == '#')
    {
        return Err(UrlError::TrailingJunk);
    }
    if authority.is_empty() {
        return Err(UrlError::NoHost);
    }
    if authority.contains('@') {
        return Err(UrlError::UserInfo);
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or_else(|| UrlError::BadHost(authority.to_string()))?;
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return Err(UrlError::BadHost(authority.to_string()));
        }
        match after {
            "" => (addr, None),
            p => (addr, Some(p.strip_prefix(':').ok_or_else(|| UrlError::BadPort(p.to_string()))?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let host_ok = !host.is_empty()
        && (authority.starts_with('[')
            || host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_'));
    if !host_ok {
        return Err(UrlError::BadHost(host.to_string()));
    }
    if let Some(port) = port
        && (port.is_empty()
            || port.len() > 5
            || !port.chars().all(|c| c.is_ascii_digit())
            || port.parse::<u32>().is_ok_and(|p| p > 65535 || p == 0))
    {
        return Err(UrlError::BadPort(port.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        let cases: &[(&str, Result<(), UrlError>)] = &[
            ("https://kubernetes.default.svc", Ok(())),
            ("https://ABC123.gr7.ap-northeast-2.eks.amazonaws.com", Ok(())),
            ("https://10.0.0.1:6443", Ok(())),
            ("https://[::1]:6443", Ok(())),
            ("http://127.0.0.1:8080/", Ok(())),
            ("https://rancher.example.com/k8s/clusters/c-abc", Ok(())),
            ("ftp://x", Err(UrlError::Scheme)),
            ("kubernetes.default.svc", Err(UrlError::Scheme)),
            ("https://", Err(UrlError::NoHost)),
            ("https://user:pw@host", Err(UrlError::UserInfo)),
            ("https://host:", Err(UrlError::BadPort(String::new()))),
            ("https://host:99999", Err(UrlError::BadPort("99999".into()))),
            ("https://host:abc", Err(UrlError::BadPort("abc".into()))),
            ("https://ho st", Err(UrlError::TrailingJunk)),
            ("https://host ", Err(UrlError::TrailingJunk)),
            ("https://host/x?y=1", Err(UrlError::TrailingJunk)),
            ("https://host#frag", Err(UrlError::TrailingJunk)),
            ("https://h%st", Err(UrlError::BadHost("h%st".into()))),
        ];
        for (url, want) in cases {
            assert_eq!(&check_http_url(url), want, "{url:?}");
        }
    }
}
