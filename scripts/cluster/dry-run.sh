#!/usr/bin/env bash
# Renders the manifests (scripts/render-manifests.sh: base, training-job and every overlay) and sends
# each target to the running local cluster with `kubectl apply --dry-run=server`: the API server
# validates, defaults and admits every object (schemas, immutable fields, quantities, RBAC references)
# without storing anything. Prints one line per target; exits non-zero when the API server rejects
# anything. Needs a cluster from up.sh (--api is enough).
#
#   scripts/cluster/dry-run.sh            # every target
#   scripts/cluster/dry-run.sh dev prod   # some
#
# Namespaced objects need their namespace to exist even in a dry run, so the namespaces a target
# declares are created for real first (empty; labelled llmtwin.dev/dry-run=true); targets without one
# (base, training-job) go to namespace llmtwin-dry-run.
set -euo pipefail
# shellcheck source=scripts/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
repo_root="$(cd "$CLUSTER_SCRIPTS/../.." && pwd)"

[ -x "$BIN/kubectl" ] || die "no $BIN/kubectl: run npm run cluster:build first"
if [ ! -f "$KUBECONFIG_ADMIN" ] || ! kubectl_admin get --raw /readyz >/dev/null 2>&1; then
  die "no running cluster (npm run cluster:up, or scripts/cluster/up.sh --api)"
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(base training-job)
  for overlay in "$repo_root"/deploy/overlays/*/; do targets+=("$(basename "$overlay")"); done
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Render with the cluster's own kubectl first on PATH: its embedded kustomize (v5) is then used when no
# standalone kustomize v5 is installed. The render script also runs the offline checks (deploy/validate).
PATH="$BIN:$PATH" "$repo_root/scripts/render-manifests.sh" --out "$work" "${targets[@]}"

# Applied (not created) so that the later `apply` of the overlay's own Namespace finds kubectl's
# last-applied annotation on it.
ensure_namespace() {
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels: { llmtwin.dev/dry-run: "true" }\n' "$1" |
    kubectl_admin apply -f - >/dev/null
}

failed=0
summary=()
for target in "${targets[@]}"; do
  file="$work/$target.yaml"
  namespaces="$(awk '/^kind: Namespace$/ {ns = 1} ns && /^  name:/ {print $2; ns = 0} /^---/ {ns = 0}' "$file")"
  ns_args=()
  for ns in $namespaces; do ensure_namespace "$ns"; done
  if [ -z "$namespaces" ]; then
    ensure_namespace llmtwin-dry-run
    ns_args=(-n llmtwin-dry-run)
  fi
  objects="$(grep -c '^kind:' "$file" || true)"
  if kubectl_admin apply --dry-run=server "${ns_args[@]}" -f "$file" >"$work/$target.out" 2>"$work/$target.err"; then
    summary+=("ok        $target: $objects objects accepted")
    if [ -s "$work/$target.err" ]; then
      echo "--- $target: accepted, with warnings from the API server:" >&2
      cat "$work/$target.err" >&2
    fi
  else
    failed=1
    accepted="$(grep -c 'server dry run' "$work/$target.out" || true)"
    summary+=("REJECTED  $target: $accepted of $objects objects accepted")
    echo "--- $target: the API server rejected:" >&2
    cat "$work/$target.err" >&2
  fi
done

echo "server-side dry run against $("$BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" version -o json 2>/dev/null |
  sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -n 1):"
printf '  %s\n' "${summary[@]}"
exit "$failed"
