#!/usr/bin/env bash
# The GitOps Bridge flow as a user runs it, end to end.
#
# Without a hub (HUB_KUBECONFIG unset) it starts the project's Kubernetes API test server as a
# local stand-in for the hub. It builds the provider, installs it into a local filesystem
# mirror, applies examples/hub-spoke, shows the cluster Secrets Argo CD would see, proves the
# next plan is empty, destroys everything and shows that nothing is left.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/target/demo"
crd="${APPSET_CRD:-$root/../shared/argocd/applicationset-crd.yaml}"
pids=()

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf '\033[31mdemo failed: %s\033[0m\n' "$*" >&2; exit 1; }
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'fail "step failed at line $LINENO"' ERR

command -v terraform >/dev/null || fail "terraform (>= 1.11) is not installed"

step "Building the provider and the hub stand-in"
make -C "$root" --no-print-directory install MIRROR="$work/mirror" >/dev/null
cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p kube-test-server

rm -rf "$work/tf" && mkdir -p "$work/tf"
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
export TF_CLI_CONFIG_FILE="$work/terraform.rc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

if [ -n "${HUB_KUBECONFIG:-}" ]; then
  step "Using the hub from $HUB_KUBECONFIG"
  kubeconfig="$HUB_KUBECONFIG"
else
  step "Starting a local hub stand-in (Kubernetes API test server)"
  kubeconfig="$work/hub.kubeconfig"
  "$root/target/release/kube-test-server" --crd "$crd" --kubeconfig "$kubeconfig" --context hub \
    > "$work/hub.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q '^listening on' "$work/hub.log" 2>/dev/null && break; sleep 0.05; done
  grep -q '^listening on' "$work/hub.log" || fail "hub stand-in did not start: $(cat "$work/hub.log")"
  sed -n 's/^listening on /    hub API at /p' "$work/hub.log"
fi

tf() { terraform -chdir="$work/tf/$1" "${@:2}"; }
show_clusters() {
  python3 "$root/scripts/show_clusters.py" "$kubeconfig"
}

cp -r "$root/examples/hub-spoke" "$work/tf/hub-spoke"
step "terraform init (offline, from the local mirror)"
tf hub-spoke init -input=false -no-color >/dev/null && echo "    initialised"

step "terraform apply: register the hub and two spokes with Argo CD"
tf hub-spoke apply -auto-approve -input=false -no-color -var "hub_kubeconfig=$kubeconfig"

step "The hub's Argo CD cluster Secrets"
show_clusters

step "The next plan is empty"
set +e
tf hub-spoke plan -detailed-exitcode -input=false -no-color -var "hub_kubeconfig=$kubeconfig" >/dev/null
code=$?
set -e
[ "$code" -eq 0 ] || fail "plan after apply is not empty (exit $code)"
echo "    no changes"

step "terraform destroy"
tf hub-spoke destroy -auto-approve -input=false -no-color -var "hub_kubeconfig=$kubeconfig" | tail -n 1

step "Nothing is left on the hub"
show_clusters
echo
echo "demo finished"
