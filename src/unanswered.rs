//! Whether a request that failed may still have been carried out: the question every write
//! asks when its answer does not come, for the hub and for Route53 alike.

/// True when the connection was refused: the request never reached the server, so it cannot
/// have been carried out. Any other transport failure (a reset, a timeout) may have come after
/// the server took the request.
pub fn connection_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(cause) = source {
        if cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused) {
            return true;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connect failed")]
    struct Connect(#[source] std::io::Error);

    #[test]
    fn a_refused_connection_is_found_anywhere_in_the_chain() {
        let refused = Connect(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(connection_refused(&refused));
        let reset = Connect(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(!connection_refused(&reset));
    }
}
