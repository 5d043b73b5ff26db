//! What the provider does with an arbitrary kubeconfig: kube parses it, we select the context
//! and write the `hub` settings over it, and kube builds a client from it (TLS material, tokens)
//! without making a request. `from_kubeconfig` of a cluster Secret reads the same format.
//!
//! Nothing runs and nothing is read: exec plugins, auth providers and file references are
//! removed first (a file reference to /dev/zero would only test the fuzzer's patience).

#![no_main]

use kube::config::Kubeconfig;
use libfuzzer_sys::arbitrary::{self, Unstructured};
use libfuzzer_sys::fuzz_target;
use terraform_provider_gitopsbridge::hub::{self, HubClient, HubSettings};
use terraform_provider_gitopsbridge::protocol::redact;
use terraform_provider_gitopsbridge::argocd::cluster_secret::connection_from_kubeconfig;
use terraform_provider_gitopsbridge_fuzz::runtime;

/// The `hub` block's explicit settings, from the input.
fn settings(u: &mut Unstructured) -> arbitrary::Result<HubSettings> {
    let flags: u8 = u.arbitrary()?;
    let mut text = |bit: u8| -> arbitrary::Result<Option<String>> {
        if flags & bit == 0 { Ok(None) } else { Ok(Some(u.arbitrary::<String>()?)) }
    };
    Ok(HubSettings {
        config_context: text(1)?,
        host: text(2)?,
        token: text(4)?,
        cluster_ca_certificate: text(8)?,
        client_certificate: text(16)?,
        client_key: text(16)?,
        insecure: (flags & 32 != 0).then_some(flags & 64 != 0),
        ..HubSettings::default()
    })
}

/// Takes out everything that would run a program or read a file.
fn inline_only(kubeconfig: &mut Kubeconfig) {
    for cluster in kubeconfig.clusters.iter_mut().filter_map(|c| c.cluster.as_mut()) {
        cluster.certificate_authority = None;
    }
    for user in kubeconfig.auth_infos.iter_mut().filter_map(|u| u.auth_info.as_mut()) {
        user.exec = None;
        user.auth_provider = None;
        user.token_file = None;
        user.client_certificate = None;
        user.client_key = None;
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(settings) = settings(&mut u) else { return };
    let text = String::from_utf8_lossy(u.take_rest());
    redact::forget_all();

    let _ = connection_from_kubeconfig(&text, settings.config_context.as_deref());

    let Ok(mut kubeconfig) = Kubeconfig::from_yaml(&text) else { return };
    inline_only(&mut kubeconfig);
    let Ok((kubeconfig, options)) = hub::select_context(kubeconfig, &settings) else { return };
    let selected = options.context.as_deref().expect("a context is always named");
    let context = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == selected)
        .and_then(|c| c.context.clone())
        .expect("the selected context exists");
    if let Some(host) = &settings.host {
        let cluster = kubeconfig.clusters.iter().find(|c| c.name == context.cluster).and_then(|c| c.cluster.as_ref());
        if let Some(cluster) = cluster {
            assert_eq!(cluster.server.as_deref(), Some(host.trim_end_matches('/')), "host overrides the server");
        }
    }
    let _ = runtime().block_on(HubClient::from_kubeconfig(kubeconfig, &options));
});
