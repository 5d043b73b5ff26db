#!/usr/bin/env bash
# Regenerates docs/ (or checks it with --check) from `terraform providers schema -json`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)
arch=$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

plugin_dir="$work/mirror/registry.terraform.io/gitops-bridge/gitopsbridge/$version/linux_$arch"
mkdir -p "$plugin_dir" "$work/root"
cp "$root/target/debug/terraform-provider-gitopsbridge" "$plugin_dir/terraform-provider-gitopsbridge_v$version"
cat > "$work/terraform.rc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$work/mirror"
    include = ["registry.terraform.io/gitops-bridge/gitopsbridge"]
  }
  direct {
    exclude = ["registry.terraform.io/gitops-bridge/gitopsbridge"]
  }
}
RC
cat > "$work/root/main.tf" <<'TF'
terraform {
  required_providers {
    gitopsbridge = { source = "gitops-bridge/gitopsbridge" }
  }
}
TF
export TF_CLI_CONFIG_FILE="$work/terraform.rc" CHECKPOINT_DISABLE=1
terraform -chdir="$work/root" init -input=false >/dev/null
terraform -chdir="$work/root" providers schema -json > "$work/schema.json"
python3 "$root/scripts/gendocs.py" "$work/schema.json" "$@"
