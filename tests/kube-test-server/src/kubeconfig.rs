//! A plain kubeconfig for the running server: one cluster with the CA
//! inline, one token user, one context, selected as current.

use base64::Engine;

/// YAML text; every value is quoted so no name can break the document.
pub fn render(url: &str, ca_pem: &str, token: &str, context: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {context}\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\n\
         users:\n\
         - name: {context}\n  user:\n    token: {token}\n\
         contexts:\n\
         - name: {context}\n  context:\n    cluster: {context}\n    user: {context}\n    namespace: \"default\"\n\
         current-context: {context}\n\
         preferences: {{}}\n",
        context = q(context),
        url = q(url),
        ca = q(&ca),
        token = q(token),
    )
}
