//! The hub for end-to-end tests: a Kubernetes API test server on its own runtime, with a
//! kubeconfig on disk that the provider reads like any other.

use std::path::{Path, PathBuf};

use kube_test_server::{Options, Resource, TestServer};
use serde_json::{Value as Json, json};
use tempfile::TempDir;

pub struct Hub {
    server: Option<TestServer>,
    runtime: tokio::runtime::Runtime,
    dir: TempDir,
    kubeconfig: PathBuf,
}

impl Hub {
    /// A hub with Argo CD installed (the ApplicationSet CRD is served).
    pub fn start() -> Hub {
        Hub::with_options(Options::default().with_argocd())
    }

    pub fn with_options(options: Options) -> Hub {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime for the hub");
        let server = runtime.block_on(TestServer::start(options)).expect("hub test server");
        let dir = tempfile::Builder::new().prefix("gitopsbridge-hub").tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        server.write_kubeconfig(&kubeconfig, "hub").expect("write kubeconfig");
        Hub { server: Some(server), runtime, dir, kubeconfig }
    }

    pub fn server(&self) -> &TestServer {
        self.server.as_ref().expect("running")
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// `required_providers` and a provider block that reaches this hub through its kubeconfig.
    pub fn provider_block(&self) -> String {
        format!(
            "{}\nprovider \"gitopsbridge\" {{\n  hub {{\n    config_path = \"{}\"\n  }}\n}}\n",
            super::required_providers(),
            self.kubeconfig.display()
        )
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn secret(&self, namespace: &str, name: &str) -> Option<Json> {
        self.server().get(Resource::Secret, namespace, name)
    }

    /// Argo CD cluster Secrets in a namespace.
    pub fn cluster_secrets(&self, namespace: &str) -> Vec<Json> {
        self.server()
            .list(Resource::Secret, Some(namespace))
            .into_iter()
            .filter(|s| s["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "cluster")
            .collect()
    }

    /// ApplicationSets in a namespace.
    pub fn application_sets(&self, namespace: &str) -> Vec<Json> {
        self.server().list(Resource::ApplicationSet, Some(namespace))
    }

    /// Server-side apply of a partial Secret as another field manager (a controller, a human).
    pub fn apply_as(&self, manager: &str, namespace: &str, name: &str, partial: Json) {
        let mut object =
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}});
        merge(&mut object, partial);
        self.server()
            .apply(Resource::Secret, namespace, manager, object, true)
            .unwrap_or_else(|e| panic!("apply as {manager}: {e:?}"));
    }

    pub fn delete_secret(&self, namespace: &str, name: &str) {
        self.server().delete(Resource::Secret, namespace, name).expect("delete secret");
    }

    /// Writes (POST, PUT, PATCH, DELETE) the hub has received from clients.
    pub fn writes(&self) -> u64 {
        self.server().write_count()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

fn merge(target: &mut Json, patch: Json) {
    match (target, patch) {
        (Json::Object(t), Json::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k).or_insert(Json::Null), v);
            }
        }
        (t, p) => *t = p,
    }
}
