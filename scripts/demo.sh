#!/usr/bin/env bash
# The GitOps Bridge flow as a user runs it, end to end, with the real terraform.
#
#   1. hub/spoke: register the hub and two spokes with the hub's Argo CD (examples/hub-spoke)
#   2. blue/green: blue at weight 100, green at 0 with blue's metadata (examples/blue-green)
#   3. the flip: edit green's main.tf to 100 and blue's to 0, apply each, watch the split; the
#      raise to green is refused while Argo CD reports green Degraded, accepted once it is Healthy
#   4. a canary (examples/canary): 10 % -> 50 % -> 100 % to green, rolled back when green turns
#      Degraded halfway, then carried through once it is Healthy again
#   5. destroy everything and show that nothing is left
#
# Local stand-ins are started for what is not given: the project's Kubernetes API test server
# for the hub (unless HUB_KUBECONFIG is set) and moto for Route53 (unless ROUTE53_ZONE_ID is
# set, in which case the AWS credential chain and that hosted zone are used).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/target/demo"
service="burnham.example.com"
pids=()

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf '\033[31mdemo failed: %s\033[0m\n' "$*" >&2; exit 1; }
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'fail "the step above failed (line $LINENO)"' ERR

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

# Waits until a background server printed its ready line into its log.
wait_for() {
  local log=$1 pattern=$2
  for _ in $(seq 200); do grep -q "$pattern" "$log" 2>/dev/null && return 0; sleep 0.05; done
  fail "$(basename "$log" .log) did not start: $(cat "$log")"
}

if [ -n "${HUB_KUBECONFIG:-}" ]; then
  step "Using the hub from $HUB_KUBECONFIG"
  kubeconfig="$HUB_KUBECONFIG"
else
  step "Starting a local hub stand-in (Kubernetes API test server)"
  kubeconfig="$work/hub.kubeconfig"
  # --argocd: Argo CD's CRDs from $APPSET_CRD/$APPLICATION_CRD, ../shared/argocd/ or the verified
  # download in target/argocd-crds/ (scripts/argocd_crds.py); else without schema validation.
  python3 "$root/scripts/argocd_crds.py"
  # The stand-in Argo CD rolls green's Applications out over a few reads before they are Healthy.
  "$root/target/release/kube-test-server" --argocd --kubeconfig "$kubeconfig" --context hub \
    --app-script '{"name": "*-eks-green", "steps": [{"health": "Progressing", "message": "rolling out", "reads": 4}, {}]}' \
    > "$work/hub.log" 2>&1 &
  pids+=($!)
  wait_for "$work/hub.log" '^listening on'
  sed -n 's/^listening on /    hub API at /p;s/^kube-test-server: /    /p' "$work/hub.log"
fi

if [ -n "${ROUTE53_ZONE_ID:-}" ]; then
  step "Using Route53 hosted zone $ROUTE53_ZONE_ID"
  zone_id="$ROUTE53_ZONE_ID"
  canary_zone_id="$ROUTE53_ZONE_ID" canary_service="canary.$service"
  route53_endpoint=""
else
  step "Starting a local Route53 stand-in (moto)"
  command -v moto_server >/dev/null || python3 -m pip install --quiet "moto[server]"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  moto_server -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
  pids+=($!)
  wait_for "$work/moto.log" 'Running on'
  route53_endpoint="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=ap-northeast-2
  # The canary gets a zone of its own: moto (unlike Route53) deletes a weighted record by its
  # set identifier in every name of the zone, and both services have a "blue" and a "green".
  read -r zone_id canary_zone_id < <(python3 - "$route53_endpoint" <<'PY'
import sys, boto3
r53 = boto3.client("route53", endpoint_url=sys.argv[1])
ids = [r53.create_hosted_zone(Name=name, CallerReference=f"gitopsbridge-demo-{name}")["HostedZone"]["Id"]
       for name in ("example.com", "example.net")]
print(*(i.split("/")[-1] for i in ids))
PY
)
  canary_service="canary.example.net"
  echo "    Route53 API at $route53_endpoint, hosted zones example.com = $zone_id, example.net = $canary_zone_id"
fi

vars=(-var "hub_kubeconfig=$kubeconfig")
bg_vars=("${vars[@]}" -var "hosted_zone_id=$zone_id" -var "service_name=$service")
[ -n "$route53_endpoint" ] && bg_vars+=(-var "route53_endpoint=$route53_endpoint")

tf() { terraform -chdir="$work/tf/$1" "${@:2}" -no-color; }
init() { cp -r "$root/examples/$1" "$work/tf/$(basename "$1")"; tf "$(basename "$1")" init -input=false >/dev/null; }
apply() { local dir=$1; shift; tf "$dir" apply -auto-approve -input=false "$@"; }
quiet_apply() { apply "$@" | grep -E '^(Apply complete|Warning)' || true; }
split() {
  tf environment apply -auto-approve -input=false "${bg_vars[@]}" >/dev/null
  tf environment output -json traffic_split | python3 -c '
import json, sys
shares = json.load(sys.stdin)
if not shares:
    print("    (no weighted records)")
for cluster, share in sorted(shares.items()):
    print(f"    {cluster:>6}: {share:5.1f} %  " + "#" * int(share / 4))'
}
plan_is_empty() {
  local dir=$1; shift
  set +e; tf "$dir" plan -detailed-exitcode -input=false "$@" > "$work/plan.out"; local code=$?; set -e
  [ "$code" -eq 0 ] || { cat "$work/plan.out"; fail "the plan after apply in $dir is not empty (exit $code)"; }
  echo "    $dir: no changes"
}
set_weight() { sed -i "s/weight         = $2 /weight         = $3 /" "$work/tf/$1/main.tf"; }

step "terraform init of every root (offline, from the local mirror)"
for example in hub-spoke blue-green/environment blue-green/eks-blue blue-green/eks-green; do init "$example"; done
echo "    hub-spoke, environment, eks-blue, eks-green"

step "hub-spoke: register the hub and two spokes with Argo CD"
apply hub-spoke "${vars[@]}" | sed -n '/will be created/p;/^Apply complete/p'
python3 "$root/scripts/show_clusters.py" "$kubeconfig"
plan_is_empty hub-spoke "${vars[@]}"

step "blue/green: blue takes all traffic (weight 100), green joins at 0 with blue's metadata"
quiet_apply eks-blue "${bg_vars[@]}"
echo "    eks-green: wait_for_ready holds the apply until Argo CD reports green's Applications Healthy"
started=$(date +%s)
quiet_apply eks-green "${bg_vars[@]}"
echo "    eks-green ready after $(( $(date +%s) - started )) s:"
python3 "$root/scripts/show_clusters.py" "$kubeconfig" | grep -A3 'eks-green' || true
plan_is_empty eks-blue "${bg_vars[@]}"
plan_is_empty eks-green "${bg_vars[@]}"
echo "    live split of $service:"
split

step "The flip: green 0 -> 100 in eks-green/main.tf"
set_weight eks-green 0 100
if [ -z "${HUB_KUBECONFIG:-}" ]; then
  # The readiness gate (require_ready on green's record) refuses the raise, with nothing written,
  # while Argo CD reports green's workloads Degraded.
  python3 "$root/scripts/argocd_stand_in.py" "$kubeconfig" '*-eks-green' Degraded \
    "Deployment burnham-api exceeded its progress deadline"
  if apply eks-green "${bg_vars[@]}" > "$work/refused.out" 2>&1; then
    fail "the flip to a Degraded green was not refused"
  fi
  echo "    refused:"
  # Terraform's error without the lines that point into main.tf.
  sed -n '/^Error: /,$p' "$work/refused.out" | grep -vE '^(  with | *on main.tf| *[0-9]+: |$)' | sed 's/^/      /'
  split
  python3 "$root/scripts/argocd_stand_in.py" "$kubeconfig" '*-eks-green' Healthy
fi
tf eks-green plan -input=false "${bg_vars[@]}" | grep -E '~ weight|Plan:'
quiet_apply eks-green "${bg_vars[@]}"
split

step "The flip: blue 100 -> 0 in eks-blue/main.tf"
set_weight eks-blue 100 0
tf eks-blue plan -input=false "${bg_vars[@]}" | grep -E '~ weight|Plan:'
quiet_apply eks-blue "${bg_vars[@]}"
split

step "A canary on $canary_service: green's share 10 % -> 50 % -> 100 %, gated on green's readiness"
init canary
canary_vars=("${vars[@]}" -var "hosted_zone_id=$canary_zone_id" -var "service_name=$canary_service" -var "step_pause=5s")
[ -n "$route53_endpoint" ] && canary_vars+=(-var "route53_endpoint=$route53_endpoint")
quiet_apply canary "${canary_vars[@]}"
echo "    blue 100 / green 0; now -var green_weight=100, whose plan lists the steps:"
tf canary plan -input=false "${canary_vars[@]}" -var green_weight=100 | grep -oE '"step [0-9][^"]*"' | awk '!seen[$0]++' | sed 's/^/      /'
if [ -n "$route53_endpoint" ] && [ -z "${HUB_KUBECONFIG:-}" ]; then
  # While the second step (50 %) holds, the stand-in Argo CD reports green Degraded: the gate is
  # checked again before the next step, and the apply puts blue 100 / green 0 back in one change.
  apply canary "${canary_vars[@]}" -var green_weight=100 > "$work/canary.out" 2>&1 &
  canary=$!
  python3 - "$route53_endpoint" "$canary_zone_id" "$canary_service" <<'PY'
import sys, time, boto3
r53 = boto3.client("route53", endpoint_url=sys.argv[1])
for _ in range(600):
    sets = r53.list_resource_record_sets(HostedZoneId=sys.argv[2], StartRecordName=sys.argv[3])
    weights = {r["SetIdentifier"]: r["Weight"] for r in sets["ResourceRecordSets"]
               if r["Name"] == sys.argv[3] + "." and "SetIdentifier" in r}
    if weights.get("green") == 50:
        print("    step 2 is live: blue 50 / green 50")
        break
    time.sleep(0.1)
else:
    sys.exit("step 2 never went live")
PY
  python3 "$root/scripts/argocd_stand_in.py" "$kubeconfig" '*-eks-green' Degraded "Readiness probe failed: HTTP 503"
  if wait "$canary"; then fail "the canary went on to a Degraded green"; fi
  echo "    rolled back:"
  sed -n '/^Error: /,$p' "$work/canary.out" | grep -vE '^(  with | *on main.tf| *[0-9]+: |$)' | sed 's/^/      /'
  python3 "$root/scripts/argocd_stand_in.py" "$kubeconfig" '*-eks-green' Healthy
fi
apply canary "${canary_vars[@]}" -var green_weight=100 | grep -E '^Apply complete' || fail "the canary did not finish"
tf canary output -json traffic_shares | python3 -c '
import json, sys
print("    " + sys.argv[1] + ":", ", ".join(f"{k} {v:.0f} %" for k, v in sorted(json.load(sys.stdin).items())))' "$canary_service"
tf canary destroy -auto-approve -input=false "${canary_vars[@]}" -var green_weight=100 | tail -n 1

step "terraform destroy of blue: its record goes, Argo CD drains blue, then blue's Secret goes"
# The drain's progress is in the provider's log: workload Applications, then addons, then the rest.
destroyed=$(TF_LOG_PROVIDER=INFO tf eks-blue destroy -auto-approve -input=false "${bg_vars[@]}" 2> "$work/destroy.log" | tail -n 1)
grep -o 'cluster eks-blue: [^"\\]*' "$work/destroy.log" | sed 's/^/    /' || true
echo "$destroyed"
plan_is_empty eks-green "${bg_vars[@]}"

step "terraform destroy of green, then the hub and spokes"
tf eks-green destroy -auto-approve -input=false "${bg_vars[@]}" | tail -n 1
tf hub-spoke destroy -auto-approve -input=false "${vars[@]}" | tail -n 1

step "Nothing is left"
python3 "$root/scripts/show_clusters.py" "$kubeconfig" | tee "$work/left.out"
! grep -q '^    Applications on' "$work/left.out" || fail "Applications are left on the hub"
split || true
echo
echo "demo finished"
