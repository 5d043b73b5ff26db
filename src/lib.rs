//! terraform-provider-gitopsbridge: the GitOps Bridge (Argo CD cluster metadata, ApplicationSets,
//! Route53 weighted routing) as a Terraform provider.
//!
//! The layers, each importing only from those below it:
//! - [`protocol`]: the Terraform plugin server; knows nothing of Argo CD or Route53.
//! - [`provider`], [`resources`], [`data_sources`]: Terraform <-> domain, with [`tf`] (the
//!   `timeouts` block, value reading, adoption) as their shared plumbing.
//! - the domain and its clients, one folder per outside system, no Terraform in them: [`argocd`],
//!   [`hub`], [`route53`].
//! - neutral pieces every layer may use: [`halt`] (cancellation and deadlines), [`secrets`],
//!   [`unanswered`], [`http_url`].
//!
//! `tests/architecture.rs` checks that no file imports a file that imports it back and that these
//! rules hold.

pub mod argocd;
pub mod data_sources;
pub mod halt;
pub mod http_url;
pub mod hub;
pub mod protocol;
pub mod provider;
pub mod resources;
pub mod route53;
pub mod secrets;
pub mod tf;
pub mod unanswered;
