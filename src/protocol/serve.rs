//! Running the plugin: handshake, listener, optional AutoMTLS, the gRPC services, and a graceful
//! exit when Terraform says Shutdown.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;

use super::go_plugin::{Broker, Controller, Stdio};
use super::handshake::{self, Address, Settings};
use super::listener::{Conn, PluginListener};
use super::provider_api::Provider;
use super::server::ProviderService;
use super::tls::{self, Identity, TlsError};
use super::wire::plugin::{
    grpc_broker_server::GrpcBrokerServer, grpc_controller_server::GrpcControllerServer,
    grpc_stdio_server::GrpcStdioServer,
};
use super::{guard, log};

/// How long a TLS handshake may take before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long after Shutdown open calls may still finish before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("could not listen for Terraform: {0}")]
    Listen(#[from] io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Serves `provider` to the Terraform that started this process; returns the exit code.
pub fn serve(provider: Arc<dyn Provider>) -> ExitCode {
    log::init_from_env();
    guard::install_panic_hook();
    tls::install_crypto_provider();
    let settings = match handshake::settings_from_env(|name| std::env::var(name).ok()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // Two workers: Terraform starts the plugin several times per run, and the work is I/O.
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        let running = match start(provider, &settings).await {
            Ok(running) => running,
            Err(e) => {
                crate::tf_error!("could not start serving", error = e.to_string());
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = announce(&running.handshake_line()) {
            crate::tf_error!("could not write the handshake line", error = e.to_string());
            return ExitCode::FAILURE;
        }
        watch_signals(running.shutdown.clone());
        running.wait().await;
        ExitCode::SUCCESS
    });
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

fn announce(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Ctrl-C reaches the whole process group, plugin included: ignore it and let Terraform decide
/// (it calls StopProvider, then Shutdown). SIGTERM stops serving.
fn watch_signals(shutdown: CancellationToken) {
    tokio::spawn(async {
        while tokio::signal::ctrl_c().await.is_ok() {
            crate::tf_debug!("interrupt received; waiting for Terraform to stop the provider");
        }
    });
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            terminate.recv().await;
            shutdown.cancel();
        }
    });
}

/// A server that is listening and serving.
pub struct Running {
    pub address: Address,
    /// Our certificate, when AutoMTLS is on.
    pub server_cert: Option<CertificateDer<'static>>,
    /// Cancelled by Shutdown (or by the owner) to stop serving.
    pub shutdown: CancellationToken,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Running {
    pub fn handshake_line(&self) -> String {
        handshake::handshake_line(&self.address, self.server_cert.as_ref().map(|c| c.as_ref()))
    }

    /// Waits until the server has stopped, at most [`SHUTDOWN_GRACE`] after shutdown began.
    pub async fn wait(self) {
        let Running { shutdown, mut task, .. } = self;
        tokio::select! {
            result = &mut task => match result {
                Ok(Err(e)) => crate::tf_error!("server failed", error = e.to_string()),
                Err(e) => crate::tf_error!("server task failed", error = e.to_string()),
                Ok(Ok(())) => crate::tf_debug!("server stopped"),
            },
            () = async { shutdown.cancelled().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
                crate::tf_warn!("calls still open after shutdown; exiting anyway");
                task.abort();
            }
        }
    }
}

/// Binds and starts serving on the current tokio runtime.
pub async fn start(provider: Arc<dyn Provider>, settings: &Settings) -> Result<Running, ServeError> {
    let listener = PluginListener::bind(&settings.transport).await?;
    let address = listener.address()?;
    let (server_cert, acceptor) = match &settings.client_cert_pem {
        Some(pem) => {
            let identity = Identity::generate()?;
            let config = tls::server_config(&identity, pem)?;
            (Some(identity.cert), Some(tokio_rustls::TlsAcceptor::from(config)))
        }
        None => (None, None),
    };
    let shutdown = CancellationToken::new();
    let (connections, incoming) = mpsc::channel(16);
    tokio::spawn(accept_loop(listener, acceptor, connections, shutdown.clone()));

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_service_status("plugin", tonic_health::ServingStatus::Serving).await;
    let router = Server::builder()
        .add_service(health_service)
        .add_service(ProviderService::new(provider).into_server())
        .add_service(GrpcControllerServer::new(Controller { shutdown: shutdown.clone() }))
        .add_service(GrpcStdioServer::new(Stdio { shutdown: shutdown.clone() }))
        .add_service(GrpcBrokerServer::new(Broker { shutdown: shutdown.clone() }));
    let stop = shutdown.clone().cancelled_owned();
    let task = tokio::spawn(router.serve_with_incoming_shutdown(ReceiverStream::new(incoming), stop));
    Ok(Running { address, server_cert, shutdown, task })
}

/// Accepts connections until shutdown (then drops the listener, removing the socket file). TLS
/// handshakes run on their own tasks so a slow or hostile client cannot block the others.
async fn accept_loop(
    listener: PluginListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    connections: mpsc::Sender<Result<Conn, io::Error>>,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let conn = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                crate::tf_warn!("accept failed", error = e.to_string());
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(acceptor) = acceptor.clone() else {
            if connections.send(Ok(conn)).await.is_err() {
                break;
            }
            continue;
        };
        let connections = connections.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(conn)).await {
                Ok(Ok(stream)) => {
                    let _ = connections.send(Ok(Conn::new(stream))).await;
                }
                Ok(Err(e)) => crate::tf_warn!("TLS handshake refused", error = e.to_string()),
                Err(_) => crate::tf_warn!("TLS handshake timed out"),
            }
        });
    }
}
