#!/usr/bin/env bash
# Starts a single-node Kubernetes v1.33.13 cluster on this machine, everything bound to 127.0.0.1,
# state under $RUN (see lib.sh). Needs root and the binaries from build.sh (npm run cluster:build).
#
#   scripts/cluster/up.sh              # full: control plane + containerd, kubelet, kube-proxy, metrics-server
#   scripts/cluster/up.sh --api        # control plane only (etcd, API server, controller-manager,
#   MODE=api scripts/cluster/up.sh     # scheduler): enough for `kubectl apply --dry-run=server`
#
# Idempotent: components already running are left alone. Stop with down.sh (npm run cluster:down).
# Debian packages it needs and installs when missing (apt-get, as root): etcd-server, containerd, runc,
# containernetworking-plugins, iptables, openssl, curl.
set -euo pipefail
# shellcheck source=scripts/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode="${MODE:-full}"
case "${1:-}" in
  --api) mode=api ;;
  --full) mode=full ;;
  "") ;;
  -h | --help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument $1 (--api or --full)" ;;
esac
[ "$mode" = api ] || [ "$mode" = full ] || die "MODE must be api or full, not '$mode'"

t0=$(date +%s)
require_root "cluster up"
for name in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [ -x "$BIN/$name" ] || die "no $BIN/$name: run npm run cluster:build first"
done
ensure_packages etcd:etcd-server openssl:openssl curl:curl ip:iproute2
if [ "$mode" = full ]; then
  for name in kubelet kube-proxy metrics-server; do
    [ -x "$BIN/$name" ] || die "no $BIN/$name: run npm run cluster:build first"
  done
  [ -f "$IMAGES/pause.oci.tar" ] || die "no $IMAGES/pause.oci.tar: run npm run cluster:build first"
  ensure_packages containerd:containerd runc:runc /usr/lib/cni/bridge:containernetworking-plugins iptables:iptables
fi

# The API server and metrics-server reach the kubelet by the node name (the kubelet listens on
# 127.0.0.1 only), so that name must resolve to a loopback address.
node_addr="$(getent ahostsv4 "$NODE_NAME" | awk 'NR == 1 {print $1}')"
[[ "$node_addr" == 127.* ]] ||
  die "the host name '$NODE_NAME' resolves to '${node_addr:-nothing}', not 127.0.0.1; add '127.0.0.1 $NODE_NAME' to /etc/hosts"
# Ports this cluster binds on 127.0.0.1 must be free unless it is this cluster that holds them.
port_taken() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
for pair in etcd:2379 kube-apiserver:6443 kubelet:10250 metrics-server:4443; do
  if ! running_pid "${pair%%:*}" >/dev/null && port_taken "${pair#*:}"; then
    die "port ${pair#*:} (for ${pair%%:*}) is taken by another process; stop it or run npm run cluster:down"
  fi
done

# Kubernetes rejects loopback addresses as the `kubernetes` Service's endpoint (--advertise-address) and
# as a node's InternalIP. Both get $NODE_IP, a /32 on an empty bridge (a bridge, because some kernels
# have no dummy driver). Nothing listens on it and nothing is routed through it.
if ! ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
  ip link add "$NODE_BRIDGE" type bridge
  ip addr add "$NODE_IP/32" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
fi

"$CLUSTER_SCRIPTS/pki.sh"

# --- control plane ------------------------------------------------------------------------------------
start etcd etcd --name llmtwin --data-dir "$RUN/etcd/data" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster llmtwin=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381
wait_for 20 curl -sf http://127.0.0.1:2379/health || die "etcd did not become healthy; see $RUN/etcd/etcd.log"

start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers=http://127.0.0.1:2379 \
  --bind-address=127.0.0.1 --advertise-address="$NODE_IP" --secure-port=6443 \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=Hostname,InternalIP \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --allow-privileged=true --profiling=false
wait_for 90 kubectl_admin get --raw /readyz || die "the API server did not become ready; see $RUN/kube-apiserver/kube-apiserver.log"
log "API server ready after $(($(date +%s) - t0)) s"

start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig="$PKI/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$PKI/controller-manager.kubeconfig" --authorization-kubeconfig="$PKI/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port=10257 --leader-elect=false \
  --use-service-account-credentials=true \
  --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --allocate-node-cidrs=true --cluster-cidr="$POD_CIDR" --service-cluster-ip-range="$SERVICE_CIDR" \
  --horizontal-pod-autoscaler-sync-period=5s
start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$PKI/scheduler.kubeconfig" \
  --authentication-kubeconfig="$PKI/scheduler.kubeconfig" --authorization-kubeconfig="$PKI/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false
# Pods are refused until the controller-manager has created the namespace's `default` ServiceAccount
# (a few seconds after a first start).
wait_for 60 kubectl_admin get serviceaccount default -n default ||
  die "no default ServiceAccount after 60 s; see $RUN/kube-controller-manager/kube-controller-manager.log"

# --- node ---------------------------------------------------------------------------------------------
if [ "$mode" = full ]; then
  render containerd.toml "$RUN/containerd/config.toml"
  render 10-llmtwin.conflist "$RUN/cni/net.d/10-llmtwin.conflist"
  render kubelet.yaml "$RUN/kubelet/config.yaml"
  render kube-proxy.yaml "$RUN/kube-proxy/config.yaml"
  mkdir -p "$RUN/kubelet/manifests" "$RUN/kubelet/root" "$RUN/kubelet/pod-logs"

  start containerd containerd --config "$RUN/containerd/config.toml"
  ctr=(ctr -a "$CONTAINERD_SOCK" -n k8s.io)
  wait_for 20 "${ctr[@]}" version || die "containerd did not start; see $RUN/containerd/containerd.log"
  # No registry: the images are imported from the archives build.sh wrote (pods use imagePullPolicy Never
  # or IfNotPresent). Re-importing an image that is there already is cheap.
  for archive in "$IMAGES"/*.oci.tar; do
    "${ctr[@]}" images import --base-name "llmtwin.local/$(basename "$archive" .oci.tar)" "$archive" >/dev/null
  done

  start kubelet "$BIN/kubelet" --config="$RUN/kubelet/config.yaml" --kubeconfig="$PKI/kubelet.kubeconfig" \
    --root-dir="$RUN/kubelet/root" --cert-dir="$RUN/kubelet/pki" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1
  start kube-proxy "$BIN/kube-proxy" --config="$RUN/kube-proxy/config.yaml"

  kubectl_admin apply -f "$CLUSTER_SCRIPTS/config/metrics-server.yaml" >/dev/null
  start metrics-server "$BIN/metrics-server" --kubeconfig="$PKI/metrics-server.kubeconfig" \
    --authentication-kubeconfig="$PKI/metrics-server.kubeconfig" --authorization-kubeconfig="$PKI/metrics-server.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=4443 --cert-dir="$RUN/metrics-server/certs" \
    --kubelet-preferred-address-types=Hostname --kubelet-certificate-authority="$PKI/ca.crt" --metric-resolution=15s

  node_ready() {
    kubectl_admin get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -q True
  }
  wait_for 90 node_ready || die "node $NODE_NAME is not Ready after 90 s; see $RUN/kubelet/kubelet.log"
  log "node $NODE_NAME Ready"
fi

log "cluster up ($mode) in $(($(date +%s) - t0)) s"
echo "export KUBECONFIG=$KUBECONFIG_ADMIN"
echo "kubectl: $BIN/kubectl"
