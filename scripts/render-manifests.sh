#!/usr/bin/env bash
# Renders the Kubernetes manifests (deploy/base and every overlay) with kustomize v5 and checks them,
# failing on the first error. CI runs it; so can you:
#
#   scripts/render-manifests.sh                  # all targets to stdout
#   scripts/render-manifests.sh --out build/k8s  # build/k8s/{base,training-job,dev,prod}.yaml
#   scripts/render-manifests.sh dev              # one target
#   scripts/render-manifests.sh --no-validate    # render only
#
# Which kustomize: $KUSTOMIZE if set; else a standalone kustomize v5 on PATH; else `kubectl kustomize`
# when that kubectl embeds kustomize v5 (kubectl >= 1.27); else kustomize built from its Go module into
# ~/.cache/llmtwin/bin. Debian 12's own kubectl (package kubernetes-client, 1.20) embeds kustomize v2,
# which rejects these kustomizations (`json: unknown field "labels"`), so it is never used.
#
# The check (deploy/validate, Go) decodes every object strictly into the Kubernetes API types and
# follows the references between them; see deploy/validate/main.go.
set -euo pipefail

KUSTOMIZE_VERSION=v5.8.1
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_bin="${XDG_CACHE_HOME:-$HOME/.cache}/llmtwin/bin"

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

out_dir=""
validate=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out_dir="${2:?--out needs a directory}"; shift 2 ;;
    --out=*) out_dir="${1#--out=}"; shift ;;
    --no-validate) validate=0; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "render-manifests: unknown option $1" >&2; usage 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  # training-job: the base plus the training Job template, which the trainer creates per run (never applied).
  targets=(base training-job)
  for overlay in "$repo_root"/deploy/overlays/*/; do
    targets+=("$(basename "$overlay")")
  done
fi

log() { echo "render-manifests: $*" >&2; }

target_dir() {
  case "$1" in
    base | training-job) echo "$repo_root/deploy/$1" ;;
    *) echo "$repo_root/deploy/overlays/$1" ;;
  esac
}

# kustomize's major version from `kustomize version` / `kubectl version --client` output ("v5.5.0").
major_of() { sed -n 's/.*v\([0-9][0-9]*\)\.[0-9][0-9]*\.[0-9][0-9]*.*/\1/p' | head -n 1; }

kustomize_cmd=()
find_kustomize() {
  if [ -n "${KUSTOMIZE:-}" ]; then
    kustomize_cmd=("$KUSTOMIZE" build)
    log "using \$KUSTOMIZE=$KUSTOMIZE"
    return
  fi
  local cached="$cache_bin/kustomize-$KUSTOMIZE_VERSION"
  if [ -x "$cached" ]; then
    kustomize_cmd=("$cached" build)
    log "using $cached"
    return
  fi
  if command -v kustomize >/dev/null 2>&1; then
    local major
    major="$(kustomize version 2>/dev/null | major_of || true)"
    if [ "${major:-0}" -ge 5 ]; then
      kustomize_cmd=(kustomize build)
      log "using $(command -v kustomize) ($(kustomize version 2>/dev/null | head -n 1))"
      return
    fi
    log "ignoring $(command -v kustomize): not kustomize v5"
  fi
  if command -v kubectl >/dev/null 2>&1; then
    local embedded major
    embedded="$(kubectl version --client 2>/dev/null | grep -i 'kustomize' || true)"
    major="$(printf '%s\n' "$embedded" | major_of || true)"
    if [ "${major:-0}" -ge 5 ]; then
      kustomize_cmd=(kubectl kustomize)
      log "using $(command -v kubectl) kustomize (${embedded#*: })"
      return
    fi
    log "ignoring $(command -v kubectl): its embedded kustomize is older than v5"
  fi
  if command -v go >/dev/null 2>&1; then
    log "building kustomize $KUSTOMIZE_VERSION from its Go module into $cache_bin (once)"
    local tmp
    tmp="$(mktemp -d)"
    GOBIN="$tmp" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
    mkdir -p "$cache_bin"
    mv "$tmp/kustomize" "$cached"
    rmdir "$tmp"
    kustomize_cmd=("$cached" build)
    return
  fi
  log "no kustomize v5: install one (https://kubectl.docs.kubernetes.io/installation/kustomize/), a kubectl >= 1.27, or Go, or set KUSTOMIZE"
  exit 1
}

validator=""
build_validator() {
  if ! command -v go >/dev/null 2>&1; then
    log "checking the manifests needs Go (deploy/validate); pass --no-validate to render only"
    exit 1
  fi
  mkdir -p "$cache_bin"
  validator="$cache_bin/validate-manifests"
  # Go's build cache makes this a no-op when nothing changed.
  (cd "$repo_root/deploy/validate" && go build -o "$validator" .) >&2
}

find_kustomize
[ "$validate" = 1 ] && build_validator
[ -n "$out_dir" ] && mkdir -p "$out_dir"

tmp_out="$(mktemp)"
trap 'rm -f "$tmp_out"' EXIT
first=1
for target in "${targets[@]}"; do
  dir="$(target_dir "$target")"
  if [ ! -f "$dir/kustomization.yaml" ]; then
    log "unknown target '$target' (no $dir/kustomization.yaml)"
    exit 1
  fi
  if ! "${kustomize_cmd[@]}" "$dir" >"$tmp_out"; then
    log "$target: kustomize failed"
    exit 1
  fi
  if [ "$validate" = 1 ] && ! "$validator" "$tmp_out"; then
    log "$target: invalid manifests"
    exit 1
  fi
  objects="$(grep -c '^kind:' "$tmp_out" || true)"
  if [ -n "$out_dir" ]; then
    cp "$tmp_out" "$out_dir/$target.yaml"
    log "$target: $objects objects -> $out_dir/$target.yaml"
  else
    [ "$first" = 1 ] || echo '---'
    echo "# Source: ${dir#"$repo_root"/}"
    cat "$tmp_out"
    log "$target: $objects objects"
  fi
  first=0
done
