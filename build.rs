//! Generates the gRPC code for the plugin protocol from `proto/` with protox (pure Rust, so the
//! build needs no protoc on the machine).

const PROTOS: [&str; 4] = ["tfplugin6.proto", "grpc_controller.proto", "grpc_stdio.proto", "grpc_broker.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed=proto/{proto}");
    }
    let mut descriptors = protox::compile(PROTOS, ["proto"])?;
    // Well-known types come from prost-types; only our own files need code.
    descriptors.file.retain(|file| !file.name().starts_with("google/"));
    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(descriptors)?;
    Ok(())
}
