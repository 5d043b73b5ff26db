//! The JSON value decoder on the state upgrade path: Terraform hands stored state back as JSON
//! (UpgradeResourceState), possibly written by an older provider version or edited by hand.
//! Arbitrary bytes go through the server's UpgradeResourceState for each resource type, and
//! are decoded with derived types; what decodes must encode again and read back the same.

#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use terraform_provider_gitopsbridge::protocol::wire::tfplugin6 as pb;
use terraform_provider_gitopsbridge::protocol::wire::tfplugin6::provider_server::Provider as _;
use terraform_provider_gitopsbridge::protocol::{json, msgpack, redact};
use terraform_provider_gitopsbridge_fuzz::{any_type, assert_no_panic, runtime, same_value, schema_types, service};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(ty) = any_type(&mut u) else { return };
    let Ok(resource) = u.arbitrary::<u8>() else { return };
    let Ok(version) = u.int_in_range(-1i64..=2) else { return };
    let bytes = u.take_rest();

    if let Ok(value) = json::decode(bytes, &ty) {
        let encoded = json::encode(&value, &ty).unwrap_or_else(|e| panic!("a decoded value must encode: {e}"));
        let again = json::decode(&encoded, &ty).unwrap_or_else(|e| panic!("our own encoding must decode: {e}"));
        assert!(same_value(&value, &again), "a value read back is the value written: {value:?} became {again:?}");
        // What JSON gives, msgpack carries.
        let packed =
            msgpack::encode(&value, &ty).unwrap_or_else(|e| panic!("a JSON value must encode as msgpack: {e}"));
        msgpack::decode(&packed, &ty).unwrap_or_else(|e| panic!("msgpack of a JSON value must decode: {e}"));
    }

    redact::forget_all();
    // Resource types only: the first entry is the provider, the last two are data sources.
    let resources = &schema_types()[1..schema_types().len() - 2];
    let (type_name, ty) = &resources[usize::from(resource) % resources.len()];
    let request = pb::upgrade_resource_state::Request {
        type_name: type_name.clone(),
        version,
        raw_state: Some(pb::RawState { json: bytes.to_vec(), flatmap: Default::default() }),
    };
    let response =
        runtime().block_on(service().upgrade_resource_state(tonic::Request::new(request))).unwrap().into_inner();
    assert_no_panic(&response.diagnostics);
    if let Some(state) = response.upgraded_state {
        msgpack::decode(&state.msgpack, ty).unwrap_or_else(|e| panic!("the upgraded state must decode: {e}"));
    }
});
