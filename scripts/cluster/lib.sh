# shellcheck shell=bash disable=SC2034 # the settings are used by the scripts that source this file
# Shared settings and helpers for scripts/cluster/*.sh (sourced, not run).
#
# Layout (every path can be moved with LLMTWIN_CACHE_DIR, or the run directory alone with
# LLMTWIN_K8S_RUN_DIR):
#   ${LLMTWIN_CACHE_DIR:-~/.cache/llmtwin}/k8s/v1.33.13/bin     Kubernetes binaries + metrics-server
#   ${LLMTWIN_CACHE_DIR:-~/.cache/llmtwin}/k8s/v1.33.13/images  OCI archives (pause, busybox)
#   ${LLMTWIN_CACHE_DIR:-~/.cache/llmtwin}/k8s/v1.33.13/build   wrapper Go modules used to build them
#   ${LLMTWIN_CACHE_DIR:-~/.cache/llmtwin}/k8s/run              PKI, configs, data, logs and pid files
#                                                              of a running cluster
# Everything listens on 127.0.0.1 only.

K8S_VERSION="v1.33.13"
# The staging modules (k8s.io/api, client-go, ...) are versioned v0.<minor>.<patch>.
K8S_STAGING_VERSION="v0.${K8S_VERSION#v1.}"
METRICS_SERVER_VERSION="v0.8.1"

CLUSTER_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${LLMTWIN_CACHE_DIR:-$HOME/.cache/llmtwin}/k8s"
K8S_HOME="$CACHE_ROOT/$K8S_VERSION"
BIN="$K8S_HOME/bin"
IMAGES="$K8S_HOME/images"
BUILD="$K8S_HOME/build"
RUN="${LLMTWIN_K8S_RUN_DIR:-$CACHE_ROOT/run}"
PKI="$RUN/pki"
KUBECONFIG_ADMIN="$PKI/admin.kubeconfig"
CONTAINERD_SOCK="$RUN/containerd/containerd.sock"

# Kubernetes rejects loopback addresses as a node's InternalIP and as the endpoint of the `kubernetes`
# Service, so both get this address (a /32 on an otherwise empty bridge, see up.sh). Nothing listens on it.
NODE_IP="${LLMTWIN_K8S_NODE_IP:-10.245.0.1}"
NODE_BRIDGE="llmtwin-node"
POD_BRIDGE="llmtwin0"
POD_CIDR="10.244.0.0/16"
SERVICE_CIDR="10.96.0.0/16"
NODE_NAME="$(hostname)"

KUBE_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

log() { echo "cluster: $*" >&2; }
die() {
  echo "cluster: error: $*" >&2
  exit 1
}

require_root() {
  [ "$(id -u)" = 0 ] || die "$1 needs root (containerd, kubelet, iptables, network devices); run it as root"
}

kubectl_admin() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# ensure_packages CMD:PACKAGE... — install the Debian packages whose command (or file) is missing.
ensure_packages() {
  local missing=() spec cmd pkg
  for spec in "$@"; do
    cmd="${spec%%:*}"
    pkg="${spec#*:}"
    if [[ "$cmd" == /* ]]; then
      [ -e "$cmd" ] && continue
    else
      command -v "$cmd" >/dev/null 2>&1 && continue
    fi
    [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get to install them"
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})"
  log "installing Debian packages: ${missing[*]} (apt-get, once)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Is the process in $RUN/NAME/NAME.pid alive and still the command we started (not a reused pid)?
running_pid() {
  local name=$1 file="$RUN/$1/$1.pid" pid
  [ -f "$file" ] || return 1
  pid="$(cat "$file")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name" || return 1
  echo "$pid"
}

# start NAME CMD... — run CMD detached (own session, survives the calling shell), log and pid under $RUN/NAME.
start() {
  local name=$1 pid
  shift
  mkdir -p "$RUN/$name"
  if pid="$(running_pid "$name")"; then
    log "$name already running (pid $pid)"
    return 0
  fi
  setsid "$@" >>"$RUN/$name/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name/$name.pid"
  log "started $name (pid $!, log $RUN/$name/$name.log)"
}

# stop NAME — TERM, wait up to 10 s, then KILL.
stop() {
  local name=$1 pid
  if pid="$(running_pid "$name")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 20); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      log "killed $name (pid $pid)"
    else
      log "stopped $name (pid $pid)"
    fi
  fi
  rm -f "$RUN/$name/$name.pid"
}

# wait_for SECONDS CMD... — poll CMD every 0.5 s until it succeeds; fails after SECONDS.
wait_for() {
  local seconds=$1
  shift
  for _ in $(seq $((seconds * 2))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

# render TEMPLATE DEST — substitute @RUN@, @PKI@, @NODE_NAME@, @NODE_IP@, @POD_CIDR@, @SERVICE_CIDR@, @POD_BRIDGE@.
render() {
  mkdir -p "$(dirname "$2")"
  sed -e "s#@RUN@#$RUN#g" -e "s#@PKI@#$PKI#g" -e "s#@NODE_NAME@#$NODE_NAME#g" -e "s#@NODE_IP@#$NODE_IP#g" \
    -e "s#@POD_CIDR@#$POD_CIDR#g" -e "s#@SERVICE_CIDR@#$SERVICE_CIDR#g" -e "s#@POD_BRIDGE@#$POD_BRIDGE#g" \
    -e "s#@CONTAINERD_SOCK@#$CONTAINERD_SOCK#g" "$CLUSTER_SCRIPTS/config/$1" >"$2"
}
