#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for elastic-etcd: etcd 3.4, etcdctl and the discovery service from the
# distribution (the tests and the demo run real ones on loopback addresses), shellcheck for the boot script
# check, etcd 3.5 (etcd, etcdctl, etcdutl) from Debian's sid suite into the project-local, git-ignored
# .etcd/3.5/ (the tests run on both versions), and the Node.js dependencies from the lock file.
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

# etcd 3.5, without touching the machine's apt configuration or installed packages: apt-get runs with a private
# configuration whose only source is Debian sid, downloads the two .debs (no install), and dpkg -x unpacks them.
# Done once: a complete .etcd/3.5/bin is kept; an interrupted fetch leaves nothing that looks complete.
etcd35=.etcd/3.5
etcd35_ok() {
  for tool in etcd etcdctl etcdutl; do [ -x "$etcd35/bin/$tool" ] || return 1; done
  # Read the whole output first: grep -q would close the pipe early, and under pipefail etcd's SIGPIPE fails the check.
  local version
  version=$("$etcd35/bin/etcd" --version 2>/dev/null) || return 1
  [[ "$version" =~ (^|$'\n')'etcd Version: 3.5.' ]]
}
if ! etcd35_ok; then
  echo "setup: fetching etcd 3.5 from Debian sid into $etcd35/ (the system's packages stay as they are)"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -r "$keyring" ] || { echo "setup: $keyring is missing; install the debian-archive-keyring package" >&2; exit 1; }
  work="$etcd35.partial"
  rm -rf "$work"
  mkdir -p "$work/apt/parts" "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/debs" "$work/root"
  cat >"$work/apt/parts/debian-sid.sources" <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
Signed-By: $keyring
SOURCES
  apt_private=(
    -o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$PWD/$work/apt/parts"
    -o "Dir::State::Lists=$PWD/$work/apt/lists" -o "Dir::Cache=$PWD/$work/apt/cache"
    -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=/dev/null"
    -o "APT::Sandbox::User=$(id -un)"
  )
  fail() { echo "setup: could not fetch etcd 3.5 ($1); the tests on 3.5 need it. Check that deb.debian.org is reachable and run bash scripts/setup.sh again" >&2; exit 1; }
  apt-get "${apt_private[@]}" -q --error-on=any update || fail "apt-get update of the private sid configuration failed"
  (cd "$work/debs" && apt-get "${apt_private[@]}" -q download etcd-server etcd-client) || fail "apt-get download etcd-server etcd-client failed"
  for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root" || fail "dpkg -x $deb failed"; done
  mkdir -p "$work/bin"
  for tool in etcd etcdctl etcdutl; do
    [ -x "$work/root/usr/bin/$tool" ] || fail "the packages hold no usr/bin/$tool"
    ln -s "../root/usr/bin/$tool" "$work/bin/$tool"
  done
  rm -rf "$work/apt" "$work/debs" "$etcd35"
  mv "$work" "$etcd35"
  etcd35_ok || fail "$etcd35/bin/etcd does not run as etcd 3.5"
fi
echo "setup: $("$etcd35/bin/etcd" --version | head -n 1) in $etcd35/bin"

npm ci
