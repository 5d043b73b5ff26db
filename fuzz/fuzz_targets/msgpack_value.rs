//! The msgpack value decoder: every value Terraform sends (configuration, plan, state) arrives
//! this way. Arbitrary bytes are decoded with the provider's own types and with types derived
//! from the input; what decodes must encode again, and that encoding must be stable. Then the
//! same bytes go through the server's Validate RPCs as configuration, as Terraform sends them.

#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use terraform_provider_gitopsbridge::protocol::msgpack;
use terraform_provider_gitopsbridge::protocol::redact;
use terraform_provider_gitopsbridge::protocol::wire::tfplugin6 as pb;
use terraform_provider_gitopsbridge::protocol::wire::tfplugin6::provider_server::Provider as _;
use terraform_provider_gitopsbridge_fuzz::{any_type, assert_no_panic, runtime, schema_types, service};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(ty) = any_type(&mut u) else { return };
    let Ok(rpc) = u.arbitrary::<u8>() else { return };
    let bytes = u.take_rest();

    if let Ok(value) = msgpack::decode(bytes, &ty) {
        let encoded = msgpack::encode(&value, &ty).unwrap_or_else(|e| panic!("a decoded value must encode: {e}"));
        let again = msgpack::decode(&encoded, &ty).unwrap_or_else(|e| panic!("our own encoding must decode: {e}"));
        assert_eq!(msgpack::encode(&again, &ty).unwrap(), encoded, "encoding a decoded value is stable");
    }

    // Each input starts with nothing remembered, as a new provider process would.
    redact::forget_all();
    let (type_name, _) = &schema_types()[usize::from(rpc) % schema_types().len()];
    let config = Some(pb::DynamicValue { msgpack: bytes.to_vec(), json: Vec::new() });
    let service = service();
    runtime().block_on(async {
        let diagnostics = if type_name.is_empty() {
            let request = pb::validate_provider_config::Request { config };
            service.validate_provider_config(tonic::Request::new(request)).await.unwrap().into_inner().diagnostics
        } else if rpc & 0x80 == 0 {
            let request = pb::validate_resource_config::Request {
                type_name: type_name.clone(),
                config,
                client_capabilities: Some(pb::ClientCapabilities {
                    deferral_allowed: false,
                    write_only_attributes_allowed: true,
                }),
            };
            service.validate_resource_config(tonic::Request::new(request)).await.unwrap().into_inner().diagnostics
        } else {
            let request = pb::validate_data_resource_config::Request { type_name: type_name.clone(), config };
            service.validate_data_resource_config(tonic::Request::new(request)).await.unwrap().into_inner().diagnostics
        };
        assert_no_panic(&diagnostics);
    });
});
