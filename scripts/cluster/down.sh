#!/usr/bin/env bash
# Stops the local cluster that up.sh started and undoes what it did to the host: pod containers,
# kube-proxy's iptables chains, mounts under $RUN, the pods' network namespaces, the two bridges, the
# kubepods cgroups and the two host paths the kubelet insists on. Safe to run twice, or after a crash.
#
#   scripts/cluster/down.sh           # stop; keep etcd data, PKI and images (next up is fast)
#   scripts/cluster/down.sh --purge   # also delete $RUN (cluster data, PKI, logs)
#
# Not `set -e`: every step runs even when an earlier one finds nothing to undo.
set -uo pipefail
# shellcheck source=scripts/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
case "${1:-}" in
  --purge) purge=1 ;;
  "") ;;
  -h | --help) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument $1 (--purge)" ;;
esac
require_root "cluster down"
t0=$(date +%s)

# Node components first (the kubelet would restart containers), then the control plane.
for name in metrics-server kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver etcd; do
  stop "$name"
done

# Pod containers: kill and delete them through our containerd while it still runs.
ctr=(ctr -a "$CONTAINERD_SOCK" -n k8s.io)
if [ -S "$CONTAINERD_SOCK" ] && "${ctr[@]}" version >/dev/null 2>&1; then
  for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do "${ctr[@]}" tasks kill -s SIGKILL "$task" >/dev/null 2>&1; done
  sleep 1
  for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do "${ctr[@]}" tasks delete -f "$task" >/dev/null 2>&1; done
  for c in $("${ctr[@]}" containers ls -q 2>/dev/null); do "${ctr[@]}" containers delete "$c" >/dev/null 2>&1; done
  log "pod containers removed"
fi
stop containerd
# Shims left behind by our containerd (found by its socket path on their command line), by pid.
for pid in $(pgrep -f -- "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" || true); do
  kill -KILL "$pid" 2>/dev/null && log "killed leftover shim $pid"
done

# kube-proxy's (and the kubelet's) KUBE-* chains. `kube-proxy --cleanup` would also want ipset, so by
# hand: drop the jumps from the built-in chains into KUBE-* chains, then flush and delete those chains.
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null 2>&1 || continue
  for table in filter nat mangle; do
    "$ipt" -t "$table" -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j KUBE-' | grep -vE '^-A KUBE-' | sed 's/^-A //' |
      while read -r rule; do
        # shellcheck disable=SC2086 # the rule is a list of iptables words
        eval "$ipt" -t "$table" -D $rule 2>/dev/null
      done
    chains="$("$ipt" -t "$table" -S 2>/dev/null | awk '/^-N KUBE-/ {print $2}')"
    for chain in $chains; do "$ipt" -t "$table" -F "$chain" 2>/dev/null; done
    for chain in $chains; do "$ipt" -t "$table" -X "$chain" 2>/dev/null; done
  done
done
log "KUBE-* iptables chains removed"

# Mounts under $RUN (containerd snapshots, pod volumes, netns), deepest first.
awk -v run="$RUN/" 'index($2, run) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
  umount -l "$m" 2>/dev/null
done
# The pods' network namespaces (the CRI names them cni-<uuid>), our pod bridge and the node-IP bridge.
for ns in $(ip netns list 2>/dev/null | awk '/^cni-/ {print $1}'); do ip netns del "$ns" 2>/dev/null; done
ip link del "$POD_BRIDGE" 2>/dev/null
ip link del "$NODE_BRIDGE" 2>/dev/null
# host-local IPAM state of our network (name "llmtwin" in config/10-llmtwin.conflist).
rm -rf /var/lib/cni/networks/llmtwin /var/lib/cni/results/llmtwin-* /var/lib/cni/results/cni-loopback-* 2>/dev/null
# Empty kubepods cgroups (cgroupfs driver; v1 has one per controller, v2 one).
for cg in /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods; do
  [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
done
# The kubelet hard-codes two host paths: /var/log/containers (symlinks to pod logs) and its
# device-plugin socket under /var/lib/kubelet.
[ -d /var/log/containers ] && find /var/log/containers -maxdepth 1 -lname "$RUN/*" -delete
rm -f /var/lib/kubelet/device-plugins/kubelet.sock
rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet /var/log/containers 2>/dev/null

if [ "$purge" = 1 ]; then
  if awk -v run="$RUN/" 'index($2, run) == 1 {found = 1} END {exit !found}' /proc/self/mounts; then
    log "not deleting $RUN: something is still mounted under it"
  else
    rm -rf "$RUN"
    log "deleted $RUN"
  fi
fi
log "cluster down in $(($(date +%s) - t0)) s"
