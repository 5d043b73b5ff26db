//! The socket the plugin serves on: a unix socket (go-plugin's choice on Linux) or, when asked
//! for or when unix sockets are unavailable, a TCP port on 127.0.0.1.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener};

use super::handshake::{Address, Transport};

/// A bound listener. The unix socket file is removed when this is dropped.
pub enum PluginListener {
    Unix { listener: UnixListener, path: PathBuf },
    Tcp(TcpListener),
}

impl PluginListener {
    /// Binds as `transport` asks; a unix socket that cannot be created falls back to TCP.
    pub async fn bind(transport: &Transport) -> io::Result<PluginListener> {
        match transport {
            Transport::Unix { dir, tcp_fallback: (min_port, max_port) } => match bind_unix(dir) {
                Ok(listener) => Ok(listener),
                Err(unix_error) => {
                    crate::tf_warn!("unix socket unavailable, using TCP", error = unix_error.to_string());
                    bind_tcp(*min_port, *max_port).await
                }
            },
            Transport::Tcp { min_port, max_port } => bind_tcp(*min_port, *max_port).await,
        }
    }

    pub fn address(&self) -> io::Result<Address> {
        match self {
            PluginListener::Unix { path, .. } => Ok(Address::Unix(path.clone())),
            PluginListener::Tcp(listener) => Ok(Address::Tcp(listener.local_addr()?)),
        }
    }

    /// Accepts one connection; TCP connections get TCP_NODELAY, since gRPC's small frames
    /// otherwise wait on Nagle's algorithm.
    pub async fn accept(&self) -> io::Result<Conn> {
        match self {
            PluginListener::Unix { listener, .. } => Ok(Conn::new(listener.accept().await?.0)),
            PluginListener::Tcp(listener) => {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Ok(Conn::new(stream))
            }
        }
    }
}

impl Drop for PluginListener {
    fn drop(&mut self) {
        if let PluginListener::Unix { path, .. } = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn bind_unix(dir: &Path) -> io::Result<PluginListener> {
    let mut last_error = None;
    for attempt in 0..8u32 {
        let path = dir.join(socket_name(attempt));
        match UnixListener::bind(&path) {
            Ok(listener) => return Ok(PluginListener::Unix { listener, path }),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free socket name")))
}

/// A name unlikely to collide with other plugin processes in the same directory.
fn socket_name(attempt: u32) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("plugin-gitopsbridge-{}-{nanos:x}-{attempt}", std::process::id())
}

async fn bind_tcp(min_port: u16, max_port: u16) -> io::Result<PluginListener> {
    let mut last_error = None;
    for port in min_port..=max_port {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return Ok(PluginListener::Tcp(listener)),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other(format!("no free port in {min_port}-{max_port}"))))
}

/// Any byte stream the server accepted: plain or TLS, over unix or TCP.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// An accepted connection, in the one type tonic's `serve_with_incoming` needs.
pub struct Conn(Pin<Box<dyn Stream>>);

impl Conn {
    pub fn new(stream: impl Stream) -> Conn {
        Conn(Box::pin(stream))
    }
}

impl AsyncRead for Conn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.0.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.0.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.as_mut().poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.0.as_mut().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

/// Connects to a plugin address as a client would (tests and tools).
pub async fn connect(address: &Address) -> io::Result<Conn> {
    match address {
        Address::Unix(path) => Ok(Conn::new(tokio::net::UnixStream::connect(path).await?)),
        Address::Tcp(addr) => {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(Conn::new(stream))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo_once(transport: Transport) -> Address {
        let listener = PluginListener::bind(&transport).await.unwrap();
        let address = listener.address().unwrap();
        let server = tokio::spawn(async move {
            let mut conn = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            conn.read_exact(&mut buf).await.unwrap();
            conn.write_all(&buf).await.unwrap();
            listener
        });
        let mut client = connect(&address).await.unwrap();
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        drop(server.await.unwrap());
        address
    }

    #[tokio::test]
    async fn unix_socket_is_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let address = echo_once(Transport::Unix { dir: dir.path().to_path_buf(), tcp_fallback: (20000, 20999) }).await;
        let Address::Unix(path) = address else { panic!("not unix") };
        assert!(path.starts_with(dir.path()));
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn tcp_listens_on_loopback_within_the_range() {
        let address = echo_once(Transport::Tcp { min_port: 20000, max_port: 20999 }).await;
        let Address::Tcp(addr) = address else { panic!("not tcp") };
        assert!(addr.ip().is_loopback());
        assert!((20000..=20999).contains(&addr.port()));
    }

    #[tokio::test]
    async fn a_missing_socket_dir_falls_back_to_tcp() {
        let listener =
            PluginListener::bind(&Transport::Unix { dir: "/nonexistent/dir".into(), tcp_fallback: (21000, 21999) })
                .await
                .unwrap();
        assert!(matches!(listener.address().unwrap(), Address::Tcp(_)));
    }
}
