//! Code generated from `proto/` by `build.rs`: the tfplugin6 messages and service, and
//! go-plugin's controller, stdio and broker services.

#![allow(clippy::all, clippy::pedantic, missing_docs, unreachable_pub)]

pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

pub mod plugin {
    tonic::include_proto!("plugin");
}
