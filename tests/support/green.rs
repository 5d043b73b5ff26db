//! The readiness-gate setting shared by the gate and rollout tests: a hub whose Argo CD stand-in
//! runs cluster eks-green with the Application `workloads-eks-green` (its health scripted), and
//! Route53 (moto behind the double that counts and logs the writes) with the zone example.com.

use kube_test_server::AppScript;

use super::Workspace;
use super::hub::Hub;
use super::moto::Moto;
use super::route53_double::Route53Double;

/// The hub root: cluster eks-green and an ApplicationSet that gives it `workloads-eks-green`.
const HUB_ROOT: &str = r#"
resource "gitopsbridge_cluster_metadata" "green" {
  cluster_name = "eks-green"
  environment  = "prod"
  server       = "https://green.example.internal"
}

resource "gitopsbridge_addon_set" "workloads" {
  name             = "workloads"
  application_name = "workloads-{{name}}"
  cluster_selector {
    match_labels = { environment = "prod" }
  }
  source {
    repo_url = "https://github.com/example/workloads"
    path     = "apps"
  }
}
"#;

/// The service name the tests route.
pub const SERVICE: &str = "burnham.example.com";

pub struct GreenHub {
    pub hub: Hub,
    pub moto: Moto,
    pub double: Route53Double,
    /// The id of the zone example.com.
    pub zone: String,
    _hub_root: Workspace,
}

impl GreenHub {
    /// The hub with eks-green, its Applications following `script`, and Route53 with the zone.
    pub fn start(script: AppScript) -> GreenHub {
        let hub = Hub::start();
        hub.server().script_applications("*-eks-green", script);
        let hub_root = Workspace::new(&(hub.provider_block() + HUB_ROOT));
        hub_root.apply();
        let moto = Moto::start();
        let double = Route53Double::start(&moto.endpoint());
        let zone = moto.create_zone("example.com");
        GreenHub { hub, moto, double, zone, _hub_root: hub_root }
    }

    /// `required_providers` and a provider block with this hub and Route53 through the double.
    pub fn provider_block(&self) -> String {
        format!(
            "{}\nprovider \"gitopsbridge\" {{\n  hub {{\n    config_path = \"{}\"\n  }}\n  route53 {{\n    endpoint = \"{}\"\n  }}\n}}\n",
            super::required_providers(),
            self.hub.kubeconfig().display(),
            self.double.endpoint()
        )
    }

    /// A `gitopsbridge_traffic_split` of [`SERVICE`] with blue and green, green's route gated on
    /// eks-green; `extra` closes the resource (a `rollout` block, `timeouts`).
    pub fn split(&self, blue: u32, green: u32, extra: &str) -> String {
        format!(
            r#"{}
resource "gitopsbridge_traffic_split" "burnham" {{
  zone_name = "example.com"
  name      = "{SERVICE}"
  type      = "CNAME"
  ttl       = 60

  route {{
    set_identifier = "blue"
    weight         = {blue}
    records        = ["blue-ingress.elb.amazonaws.com"]
  }}
  route {{
    set_identifier = "green"
    weight         = {green}
    records        = ["green-ingress.elb.amazonaws.com"]
    require_ready {{
      cluster_name = "eks-green"
    }}
  }}
{extra}
}}
"#,
            self.provider_block()
        )
    }

    /// Green's Applications follow `script` from now (Argo CD compares them again).
    pub fn make_green(&self, script: AppScript) {
        self.hub.server().script_applications("*-eks-green", script);
        self.hub.server().refresh_application("argocd", "workloads-eks-green").expect("refresh");
    }

    /// The weight Route53 holds for `set_identifier` of `name`.
    pub fn weight(&self, name: &str, set_identifier: &str) -> Option<i64> {
        super::moto::weight_of(&self.moto.endpoint(), &self.zone, name, set_identifier)
    }
}
