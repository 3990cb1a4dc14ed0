#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for elastic-etcd: etcd, etcdctl and the discovery service from the
# distribution (the tests and the demo run real ones on loopback addresses), shellcheck for the boot script
# check, and the Node.js dependencies from the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(etcd-server etcd-client etcd-discovery shellcheck)
missing=()
command -v etcd >/dev/null || missing+=(etcd-server)
command -v etcdctl >/dev/null || missing+=(etcd-client)
command -v discovery.etcd.io >/dev/null || missing+=(etcd-discovery)
command -v shellcheck >/dev/null || missing+=(shellcheck)

if [ "${#missing[@]}" -gt 0 ]; then
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
    as_root=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update
  # The packages try to start their system services; in a container that start is refused, which is harmless:
  # the check below is what decides whether the install worked.
  "${as_root[@]}" apt-get install -y "${packages[@]}" || true
  for tool in etcd etcdctl discovery.etcd.io shellcheck; do
    command -v "$tool" >/dev/null || { echo "setup: $tool is still missing after apt-get install" >&2; exit 1; }
  done
fi

npm ci
