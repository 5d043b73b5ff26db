"""Terraform roots for the benchmark: N resources of one of our types, and N `terraform_data`
beside them (the floor: built into Terraform, no plugin) twice: holding the values our
configuration sets, and holding them in our resource's schema shape. A variable `rev` changes
every resource, so one apply with another `rev` updates all of them."""
import json
import os
import pathlib
import resource
import subprocess
import time

from probe import PluginProbe

SOURCE = "registry.terraform.io/gitops-bridge/gitopsbridge"
REQUIRED = 'terraform {\n  required_providers {\n    gitopsbridge = { source = "gitops-bridge/gitopsbridge" }\n  }\n}\n'
REV = 'variable "rev" {\n  type    = number\n  default = 1\n}\n'

# The resource types measured, each with what a user of it would write.
TYPES = ("cluster_metadata", "addon_set", "weighted_route")


def ours(kind, n, hub_kubeconfig):
    """main.tf with n resources of `kind`."""
    if kind == "cluster_metadata":
        return (
            REQUIRED + REV
            + f'provider "gitopsbridge" {{\n  hub {{\n    config_path = "{hub_kubeconfig}"\n  }}\n}}\n'
            + f'resource "gitopsbridge_cluster_metadata" "c" {{\n  count        = {n}\n'
            '  cluster_name = "cluster-${count.index}"\n  environment  = "bench"\n'
            '  server       = "https://cluster-${count.index}.example.internal"\n'
            '  addons       = { metrics_server = true, aws_load_balancer_controller = var.rev % 2 == 0 }\n'
            '  metadata     = { addons_repo_url = "https://github.com/example/addons", addons_repo_revision = "v${var.rev}" }\n}\n'
        )
    if kind == "addon_set":
        return (
            REQUIRED + REV
            + f'provider "gitopsbridge" {{\n  hub {{\n    config_path = "{hub_kubeconfig}"\n  }}\n}}\n'
            + f'resource "gitopsbridge_addon_set" "a" {{\n  count            = {n}\n'
            '  name             = "addons-${count.index}"\n'
            '  application_name = "addons-${count.index}-{{name}}"\n'
            '  cluster_selector {\n    match_labels = { environment = "bench-${count.index}" }\n  }\n'
            '  source {\n    from_metadata   = "addons"\n    target_revision = "v${var.rev}"\n'
            '    directory {\n      recurse = true\n    }\n  }\n}\n'
        )
    if kind == "weighted_route":
        return (
            REQUIRED + REV
            + 'variable "endpoint" {\n  type = string\n}\nvariable "zone_id" {\n  type = string\n}\n'
            + 'provider "gitopsbridge" {\n  route53 {\n    endpoint = var.endpoint\n  }\n}\n'
            + f'resource "gitopsbridge_weighted_route" "r" {{\n  count          = {n}\n'
            '  zone_id        = var.zone_id\n'
            '  name           = "r${count.index}.bench.example.com"\n  type           = "CNAME"\n'
            '  set_identifier = "cluster-${count.index}"\n  weight         = var.rev\n  ttl            = 60\n'
            '  records        = ["lb-${count.index}.elb.example.net"]\n}\n'
        )
    raise ValueError(kind)


def floor(kind, n):
    """main.tf with n terraform_data whose `input` holds the values our resource's configuration
    sets: Terraform tracking the same data without a plugin."""
    return REV + f'resource "terraform_data" "d" {{\n  count = {n}\n  input = {{ {_values(kind)} }}\n}}\n'


def shaped_floor(kind, n, block):
    """main.tf with n terraform_data whose `input` has every attribute and block of our resource's
    schema (`block`, as `terraform providers schema -json` gives it): the values our
    configuration sets, every other attribute null, every block empty. Terraform then carries
    as many values per resource as for ours, without a plugin."""
    set_here = _values(kind)
    names = {part.split("=", 1)[0].strip() for part in _top_level(set_here)}
    fields = [set_here]
    for name in sorted(block.get("attributes", {})):
        if name not in names:
            fields.append(f"{name} = null")
    for name, nested in sorted(block.get("block_types", {}).items()):
        if name not in names:
            fields.append(f"{name} = " + ("[]" if nested.get("nesting_mode") in ("list", "set") else "null"))
    return REV + f'resource "terraform_data" "d" {{\n  count = {n}\n  input = {{ {", ".join(fields)} }}\n}}\n'


def _top_level(values):
    """The `name = value` parts of an object's body, split at the commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(values):
        if c in "{[(":
            depth += 1
        elif c in "}])":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(values[start:i])
            start = i + 1
    parts.append(values[start:])
    return [p for p in (p.strip() for p in parts) if p]


def resource_schema(root, env, kind):
    """Our resource's schema block, from the provider as Terraform sees it in `root`."""
    out = subprocess.run(["terraform", "providers", "schema", "-json"], cwd=root, env=env, check=True,
                         capture_output=True, text=True).stdout
    providers = json.loads(out)["provider_schemas"]
    return providers[f"{SOURCE}"]["resource_schemas"][f"gitopsbridge_{kind}"]["block"]


def _values(kind):
    """The values each resource of `kind` sets, as the body of an HCL object."""
    return {
        "cluster_metadata": (
            'cluster_name = "cluster-${count.index}", environment = "bench", '
            'server = "https://cluster-${count.index}.example.internal", '
            "addons = { metrics_server = true, aws_load_balancer_controller = var.rev % 2 == 0 }, "
            'metadata = { addons_repo_url = "https://github.com/example/addons", addons_repo_revision = "v${var.rev}" }'
        ),
        "addon_set": (
            'name = "addons-${count.index}", application_name = "addons-${count.index}-{{name}}", '
            'cluster_selector = { match_labels = { environment = "bench-${count.index}" } }, '
            'source = { from_metadata = "addons", target_revision = "v${var.rev}", directory = { recurse = true } }'
        ),
        "weighted_route": (
            'zone_id = "Z0123456789", name = "r${count.index}.bench.example.com", type = "CNAME", '
            'set_identifier = "cluster-${count.index}", weight = var.rev, ttl = 60, '
            'records = ["lb-${count.index}.elb.example.net"]'
        ),
    }[kind]


def cli_config(work, mirror):
    rc = work / "terraform.rc"
    rc.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n'
        f'    include = ["{SOURCE}"]\n  }}\n  direct {{\n    exclude = ["{SOURCE}"]\n  }}\n}}\n'
    )
    return rc


def environment(rc, extra=None):
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(rc), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    for key in ("TF_LOG", "TF_LOG_PATH", "TF_LOG_PROVIDER", "TF_LOG_CORE"):
        env.pop(key, None)
    # moto's credentials; nothing from the machine's AWS configuration.
    env.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE="/nonexistent/aws-config", AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
    )
    env.update(extra or {})
    return env


class TerraformFailed(Exception):
    pass


def terraform(root, env, *args, probe=False):
    """Runs terraform in `root`. Returns wall seconds, CPU seconds of terraform and its plugins,
    and, with `probe`, what the plugin processes used (see probe.PluginProbe)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        ["terraform", *args], cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    watcher = PluginProbe(proc.pid) if probe else None
    _, stderr = proc.communicate()
    wall = time.perf_counter() - start
    plugins = watcher.stop() if watcher else None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise TerraformFailed(f"terraform {' '.join(args)} in {root} failed:\n{stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, plugins


def setup(work, name, main_tf, env):
    root = pathlib.Path(work) / name
    root.mkdir(parents=True, exist_ok=True)
    (root / "main.tf").write_text(main_tf)
    terraform(root, env, "init", "-input=false")
    return root
