//! terraform-provider-gitopsbridge: started by Terraform, serves the provider over go-plugin.

use std::process::ExitCode;
use std::sync::Arc;

use terraform_provider_gitopsbridge::{protocol, provider::GitOpsBridge};

fn main() -> ExitCode {
    protocol::serve(Arc::new(GitOpsBridge::new()))
}
