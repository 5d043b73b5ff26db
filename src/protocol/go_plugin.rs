//! The go-plugin services Terraform expects beside tfplugin6: the controller (Shutdown), the
//! stdio mirror and the connection broker. Streams end when the server shuts down, so a graceful
//! stop is not held up by them.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use super::wire::plugin::{ConnInfo, Empty, StdioData, grpc_broker_server, grpc_controller_server, grpc_stdio_server};

type Idle<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// A stream that sends nothing and ends once `until` resolves.
fn idle_until<T: Send + 'static>(until: impl std::future::Future<Output = ()> + Send + 'static) -> Idle<T> {
    Box::pin(futures::stream::once(until).filter_map(|()| async { None }))
}

/// Shutdown stops the whole process gracefully.
pub struct Controller {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        crate::tf_debug!("shutdown requested by Terraform");
        self.shutdown.cancel();
        Ok(Response::new(Empty {}))
    }
}

/// Our logs go straight to stderr, which go-plugin already reads; the mirror stays idle.
pub struct Stdio {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream = Idle<StdioData>;

    async fn stream_stdio(&self, _request: Request<()>) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(idle_until(self.shutdown.clone().cancelled_owned())))
    }
}

/// This provider never brokers extra connections: the stream is accepted, drained and idle.
pub struct Broker {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl grpc_broker_server::GrpcBroker for Broker {
    type StartStreamStream = Idle<ConnInfo>;

    async fn start_stream(
        &self,
        request: Request<Streaming<ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut inbound = request.into_inner();
        let shutdown = self.shutdown.clone();
        Ok(Response::new(idle_until(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = async { while let Some(Ok(_)) = inbound.next().await {} } => {}
            }
        })))
    }
}
