#!/usr/bin/env bash
# Throwaway PKI for the local cluster, in $RUN/pki (see lib.sh): a cluster CA; serving certificates for
# the API server and the kubelet; client certificates and kubeconfigs for admin (system:masters),
# controller-manager, scheduler, kubelet, kube-proxy and metrics-server; the API server's client for the
# kubelet; a front-proxy CA and client (the aggregation layer, for metrics-server); the service-account
# key pair. Run by up.sh; does nothing when the PKI is complete. down.sh --purge removes it.
set -euo pipefail
# shellcheck source=scripts/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ -f "$PKI/.complete" ] && exit 0
command -v openssl >/dev/null 2>&1 || ensure_packages openssl:openssl
[ -x "$BIN/kubectl" ] || die "no $BIN/kubectl: run scripts/cluster/build.sh (npm run cluster:build) first"
mkdir -p "$PKI"
chmod 700 "$PKI"
cd "$PKI"
log "writing the cluster PKI to $PKI"

ca() { # name CN
  [ -f "$1.crt" ] && return 0
  openssl genrsa -out "$1.key" 2048 2>/dev/null
  openssl req -x509 -new -nodes -key "$1.key" -subj "/CN=$2" -days 3650 -out "$1.crt"
}
sign() { # name subject extensions-file [ca]
  local ca=${4:-ca}
  openssl genrsa -out "$1.key" 2048 2>/dev/null
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial -days 3650 \
    -extfile "$3" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr"
}
kubeconfig() { # user certificate-name
  local f="$PKI/$1.kubeconfig" k=("$BIN/kubectl" config --kubeconfig="$PKI/$1.kubeconfig")
  rm -f "$f"
  "${k[@]}" set-cluster llmtwin --server=https://127.0.0.1:6443 --certificate-authority="$PKI/ca.crt" --embed-certs >/dev/null
  "${k[@]}" set-credentials "$1" --client-certificate="$PKI/$2.crt" --client-key="$PKI/$2.key" --embed-certs >/dev/null
  "${k[@]}" set-context llmtwin --cluster=llmtwin --user="$1" >/dev/null
  "${k[@]}" use-context llmtwin >/dev/null
}

ca ca llmtwin-local-cluster-ca
ca front-proxy-ca llmtwin-local-front-proxy-ca

cat >apiserver.ext <<X
subjectAltName=IP:127.0.0.1,IP:${SERVICE_CIDR%.0/*}.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
keyUsage=digitalSignature,keyEncipherment
X
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:%s\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n' \
  "$NODE_NAME" >kubelet-serving.ext
printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n' >client.ext

sign apiserver "/CN=kube-apiserver" apiserver.ext
sign kubelet-serving "/CN=$NODE_NAME" kubelet-serving.ext
sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" client.ext
sign front-proxy-client "/CN=front-proxy-client" client.ext front-proxy-ca
sign admin "/O=system:masters/CN=kubernetes-admin" client.ext
sign controller-manager "/CN=system:kube-controller-manager" client.ext
sign scheduler "/CN=system:kube-scheduler" client.ext
sign kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" client.ext
sign kube-proxy "/CN=system:kube-proxy" client.ext
sign metrics-server "/CN=system:metrics-server" client.ext
[ -f sa.key ] || {
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
}
rm -f ./*.ext

kubeconfig admin admin
kubeconfig controller-manager controller-manager
kubeconfig scheduler scheduler
kubeconfig kubelet kubelet-client
kubeconfig kube-proxy kube-proxy
kubeconfig metrics-server metrics-server
chmod 600 ./*.key ./*.kubeconfig
touch .complete
