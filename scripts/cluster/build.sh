#!/usr/bin/env bash
# Builds what the local cluster runs, into ${LLMTWIN_CACHE_DIR:-~/.cache/llmtwin}/k8s/v1.33.13
# (see lib.sh). Each piece is skipped when already there, so a second run does nothing.
#
#   scripts/cluster/build.sh                    # build what is missing
#   scripts/cluster/build.sh --reuse-from DIR   # first take binaries (DIR/bin) and image archives
#                                               # (DIR/images) of the same version from DIR
#   scripts/cluster/build.sh --force            # rebuild everything
#
# Kubernetes: a wrapper Go module requires k8s.io/kubernetes v1.33.13 and replaces every staging module
# (k8s.io/api, client-go, ...) with its published v0.33.13 (the k8s.io/kubernetes go.mod points them at
# ./staging, which the module proxy does not serve), then `go build` each command from the proxy's source.
# metrics-server v0.8.1 the same way, pinned to the same staging versions. Needs Go >= 1.24 and about
# 30 minutes of one core for all seven binaries (built niced, one package at a time).
#
# Images (no registry, no Docker): llmtwin.local/pause:3.10 from Kubernetes' own build/pause/linux/pause.c
# (static, gcc) and llmtwin.local/busybox:1.35 from Debian's busybox-static, assembled with buildah and
# written as OCI archives that up.sh imports into containerd.
set -euo pipefail
# shellcheck source=scripts/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

reuse_from=""
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --reuse-from) reuse_from="${2:?--reuse-from needs a directory}"; shift 2 ;;
    --reuse-from=*) reuse_from="${1#--reuse-from=}"; shift ;;
    --force) force=1; shift ;;
    -h | --help) usage 0 ;;
    *) echo "build: unknown argument $1" >&2; usage 2 ;;
  esac
done

mkdir -p "$BIN" "$IMAGES" "$BUILD"

# The version a built binary reports ("Kubernetes v1.33.13", "Client Version: v1.33.13", ...).
binary_version() {
  case "$(basename "$1")" in
    kubectl) "$1" version --client 2>/dev/null | sed -n 's/^Client Version: //p' ;;
    metrics-server) echo "$METRICS_SERVER_VERSION" ;; # prints no version of its own; trusted by name
    *) "$1" --version 2>/dev/null | awk '{print $2}' ;;
  esac
}

have() { [ "$force" = 0 ] && [ -x "$BIN/$1" ]; }

# --reuse-from: hard-link (or copy) binaries and archives of the right version from an earlier build.
if [ -n "$reuse_from" ]; then
  [ -d "$reuse_from" ] || die "--reuse-from: no directory $reuse_from"
  for name in "${KUBE_BINARIES[@]}" metrics-server; do
    src="$reuse_from/bin/$name"
    if [ ! -x "$src" ] || have "$name"; then continue; fi
    version="$(binary_version "$src")"
    if [ "$version" != "$K8S_VERSION" ] && [ "$name" != metrics-server ]; then
      log "not reusing $src: version '${version:-unknown}', want $K8S_VERSION"
      continue
    fi
    cp -l "$src" "$BIN/$name" 2>/dev/null || cp "$src" "$BIN/$name"
    log "reused $src"
  done
  for image in pause busybox; do
    src="$reuse_from/images/$image.oci.tar"
    if [ ! -f "$src" ] || { [ "$force" = 0 ] && [ -f "$IMAGES/$image.oci.tar" ]; }; then continue; fi
    cp "$src" "$IMAGES/$image.oci.tar"
    log "reused $src"
  done
fi

need_go() {
  command -v go >/dev/null 2>&1 || die "building needs Go >= 1.24 (https://go.dev/dl/), or --reuse-from an earlier build"
  local v
  v="$(go env GOVERSION | sed 's/^go//')"
  [ "$(printf '%s\n1.24\n' "$v" | sort -V | head -n 1)" = 1.24 ] || die "building needs Go >= 1.24, found $v"
}

# Wrapper module for k8s.io/kubernetes (all staging modules replaced by their published versions).
k8s_module() {
  local dir="$BUILD/kubernetes" kmod staging
  [ -f "$dir/go.sum" ] && grep -q "^require k8s.io/kubernetes $K8S_VERSION\$" "$dir/go.mod" 2>/dev/null && return 0
  log "writing the wrapper module for k8s.io/kubernetes $K8S_VERSION in $dir"
  mkdir -p "$dir"
  go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
  kmod="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod"
  staging="$(grep -E '=> \./staging/' "$kmod" | awk '{print $1}' | sort -u)"
  [ -n "$staging" ] || die "no staging modules found in $kmod"
  {
    printf 'module llmtwin.local/k8sbuild\n\ngo 1.24.0\n\ngodebug default=go1.24\n\n'
    printf 'require k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
    for m in $staging; do printf '\t%s => %s %s\n' "$m" "$m" "$K8S_STAGING_VERSION"; done
    printf ')\n'
  } >"$dir/go.mod"
  {
    printf '//go:build tools\n\npackage k8sbuild\n\nimport (\n'
    for name in "${KUBE_BINARIES[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$name"; done
    printf ')\n'
  } >"$dir/tools.go"
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy)
}

build_kube() {
  local name=$1 t0
  t0=$(date +%s)
  log "building $name $K8S_VERSION (niced, this takes minutes)"
  # providerless: no cloud-provider code. The -X flags set the version that `--version` prints and the
  # node reports (left unset, a build from the module says v0.0.0-master).
  (cd "$BUILD/kubernetes" && CGO_ENABLED=0 nice -n 19 go build -p 1 -trimpath -tags providerless \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION" \
    -o "$BIN/$name.tmp" "k8s.io/kubernetes/cmd/$name")
  mv "$BIN/$name.tmp" "$BIN/$name"
  log "built $name in $(($(date +%s) - t0)) s"
}

build_metrics_server() {
  local dir="$BUILD/metrics-server" t0
  t0=$(date +%s)
  mkdir -p "$dir"
  {
    printf 'module llmtwin.local/msbuild\n\ngo 1.24.0\n\nrequire sigs.k8s.io/metrics-server %s\n\nreplace (\n' "$METRICS_SERVER_VERSION"
    for m in api apimachinery apiserver client-go component-base kms metrics; do
      printf '\tk8s.io/%s => k8s.io/%s %s\n' "$m" "$m" "$K8S_STAGING_VERSION"
    done
    printf ')\n'
  } >"$dir/go.mod"
  printf '//go:build tools\n\npackage msbuild\n\nimport _ "sigs.k8s.io/metrics-server/cmd/metrics-server"\n' >"$dir/tools.go"
  log "building metrics-server $METRICS_SERVER_VERSION (niced)"
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy &&
    CGO_ENABLED=0 nice -n 19 go build -p 1 -trimpath -ldflags '-s -w' -o "$BIN/metrics-server.tmp" \
      sigs.k8s.io/metrics-server/cmd/metrics-server)
  mv "$BIN/metrics-server.tmp" "$BIN/metrics-server"
  log "built metrics-server in $(($(date +%s) - t0)) s"
}

build_images() {
  ensure_packages buildah:buildah /bin/busybox:busybox-static gcc:gcc /usr/include/stdio.h:libc6-dev
  # A private buildah store (vfs: no overlay mounts to clean up), removed afterwards.
  local store
  store="$(mktemp -d "$BUILD/buildah.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$store'" RETURN
  local b=(buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs) c
  if [ "$force" = 1 ] || [ ! -f "$IMAGES/busybox.oci.tar" ]; then
    c="$("${b[@]}" from scratch)"
    "${b[@]}" copy "$c" /bin/busybox /bin/busybox
    "${b[@]}" run --isolation chroot "$c" -- /bin/busybox --install -s /bin
    "${b[@]}" config --cmd '["/bin/sh"]' "$c"
    "${b[@]}" commit -q --rm "$c" llmtwin.local/busybox:1.35 >/dev/null
    "${b[@]}" push -q llmtwin.local/busybox:1.35 "oci-archive:$IMAGES/busybox.oci.tar:llmtwin.local/busybox:1.35" >/dev/null
    log "built $IMAGES/busybox.oci.tar (llmtwin.local/busybox:1.35)"
  fi
  if [ "$force" = 1 ] || [ ! -f "$IMAGES/pause.oci.tar" ]; then
    need_go
    go mod download "k8s.io/kubernetes@$K8S_VERSION"
    local src
    src="$(go env GOMODCACHE)/k8s.io/kubernetes@$K8S_VERSION/build/pause/linux/pause.c"
    nice -n 19 gcc -Os -static -DVERSION="$K8S_VERSION-llmtwin" -o "$store/pause" "$src"
    c="$("${b[@]}" from scratch)"
    "${b[@]}" copy "$c" "$store/pause" /pause
    "${b[@]}" config --entrypoint '["/pause"]' "$c"
    "${b[@]}" commit -q --rm "$c" llmtwin.local/pause:3.10 >/dev/null
    "${b[@]}" push -q llmtwin.local/pause:3.10 "oci-archive:$IMAGES/pause.oci.tar:llmtwin.local/pause:3.10" >/dev/null
    log "built $IMAGES/pause.oci.tar (llmtwin.local/pause:3.10)"
  fi
}

todo=()
for name in "${KUBE_BINARIES[@]}"; do have "$name" || todo+=("$name"); done
if [ ${#todo[@]} -gt 0 ]; then
  need_go
  k8s_module
  for name in "${todo[@]}"; do build_kube "$name"; done
fi
have metrics-server || { need_go; build_metrics_server; }
if [ "$force" = 1 ] || [ ! -f "$IMAGES/pause.oci.tar" ] || [ ! -f "$IMAGES/busybox.oci.tar" ]; then
  build_images
fi
log "binaries in $BIN: $(cd "$BIN" && echo *)"
log "images in $IMAGES: $(cd "$IMAGES" && echo *)"
