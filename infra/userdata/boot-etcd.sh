#!/usr/bin/env bash
# elastic-etcd instance boot: install etcd, write its unit, wait for the drop-in that the lifecycle Lambda
# stored in SSM Parameter Store for THIS instance, then start etcd with it.
#
# Values in @AT_SIGNS@ are filled in at synth time by infra/userdata.ts; the same text is shellchecked and run
# by test/infra. Environment variables override where the script talks to and writes, for tests only:
#   AWS_EC2_METADATA_SERVICE_ENDPOINT  IMDS base URL (default http://169.254.169.254)
#   AWS_ENDPOINT_URL_SSM               SSM endpoint (default https://ssm.<region>.amazonaws.com)
#   ELASTIC_ETCD_SYSTEMD_DIR           where units go (default /etc/systemd/system)
#   ELASTIC_ETCD_SKIP_INSTALL=1        etcd is already installed
#   ELASTIC_ETCD_POLL_INTERVAL         seconds between polls for the drop-in
set -euo pipefail

readonly PARAMETER_PATH='@PARAMETER_PATH@'
readonly ETCD_VERSION='@ETCD_VERSION@'
readonly INSTALL_METHOD='@INSTALL_METHOD@'
readonly RELEASE_BASE_URL='@RELEASE_BASE_URL@'
readonly DROPIN_WAIT_SECONDS='@DROPIN_WAIT_SECONDS@'

readonly IMDS="${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}"
readonly SYSTEMD_DIR="${ELASTIC_ETCD_SYSTEMD_DIR:-/etc/systemd/system}"
readonly POLL_INTERVAL="${ELASTIC_ETCD_POLL_INTERVAL:-5}"
readonly ETCD_BIN=/usr/local/bin/etcd

log() { echo "elastic-etcd-boot: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- IMDSv2 -------------------------------------------------------------------------------------------------
imds_token() {
  curl -fsS --retry 5 --retry-connrefused --max-time 5 -X PUT "${IMDS}/latest/api/token" \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600'
}

imds_get() { # path token
  curl -fsS --retry 5 --retry-connrefused --max-time 5 -H "X-aws-ec2-metadata-token: $2" "${IMDS}/latest/$1"
}

# Prints one field of a JSON object read from stdin. python3 is on every cloud-init image; jq often is not.
json_field() { # dotted.path
  python3 -c '
import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1].split("."):
    value = value[key]
sys.stdout.write(value)
' "$1"
}

# --- install ------------------------------------------------------------------------------------------------
install_release() {
  local arch tarball dir
  case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
    *) die "unsupported architecture $(uname -m)" ;;
  esac
  tarball="etcd-v${ETCD_VERSION}-linux-${arch}.tar.gz"
  dir="$(mktemp -d)"
  curl -fsSL --retry 5 -o "${dir}/${tarball}" "${RELEASE_BASE_URL}/v${ETCD_VERSION}/${tarball}"
  tar -xzf "${dir}/${tarball}" -C "$dir" --strip-components=1
  install -m 0755 "${dir}/etcd" "${dir}/etcdctl" /usr/local/bin/
  rm -rf "$dir"
}

install_commands() {
  : # @INSTALL_COMMANDS@
}

install_etcd() {
  if [[ "${ELASTIC_ETCD_SKIP_INSTALL:-0}" == 1 ]]; then
    log "skipping the etcd install (ELASTIC_ETCD_SKIP_INSTALL=1)"
    return
  fi
  case "$INSTALL_METHOD" in
    release) install_release ;;
    commands) install_commands ;;
    preinstalled) [[ -x "$ETCD_BIN" ]] || die "install method 'preinstalled' but ${ETCD_BIN} is missing" ;;
    *) die "unknown install method ${INSTALL_METHOD}" ;;
  esac
}

# --- the unit -----------------------------------------------------------------------------------------------
# All etcd configuration arrives as ETCD_* variables from the drop-in; the unit itself carries none.
# DynamicUser + StateDirectory give etcd its own unprivileged user and a private /var/lib/etcd.
write_unit() {
  mkdir -p "${SYSTEMD_DIR}/etcd.service.d"
  cat >"${SYSTEMD_DIR}/etcd.service" <<UNIT
[Unit]
Description=etcd (membership managed by elastic-etcd)
Documentation=https://etcd.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
ExecStart=${ETCD_BIN}
Restart=on-failure
RestartSec=5
DynamicUser=yes
StateDirectory=etcd
StateDirectoryMode=0700
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
UNIT
}

# --- SSM ----------------------------------------------------------------------------------------------------
# GetParameter over the JSON 1.1 protocol, signed by curl itself (--aws-sigv4, curl >= 7.75), so no AWS CLI is
# needed. Credentials go to curl on stdin (--config -), never on its command line where `ps` would show them.
# Writes the parameter's value, byte for byte, to the output file; returns 2 when the parameter does not exist
# yet, 1 on any other failure.
ssm_get_parameter() { # name region token output-file
  local name="$1" region="$2" token="$3" output="$4" role creds endpoint response status
  role="$(imds_get meta-data/iam/security-credentials/ "$token" | head -n 1)" || return 1
  creds="$(imds_get "meta-data/iam/security-credentials/${role}" "$token")" || return 1
  endpoint="${AWS_ENDPOINT_URL_SSM:-https://ssm.${region}.amazonaws.com}"
  response="$(mktemp)"
  status="$(
    {
      printf 'user = "%s:%s"\n' "$(json_field AccessKeyId <<<"$creds")" "$(json_field SecretAccessKey <<<"$creds")"
      printf 'header = "X-Amz-Security-Token: %s"\n' "$(json_field Token <<<"$creds")"
    } | curl -sS --max-time 10 --config - --aws-sigv4 "aws:amz:${region}:ssm" \
      -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Target: AmazonSSM.GetParameter' \
      --data-binary "{\"Name\":\"${name}\"}" -o "$response" -w '%{http_code}' "${endpoint%/}/"
  )" || { rm -f "$response"; return 1; }
  if [[ "$status" == 200 ]]; then
    json_field Parameter.Value <"$response" >"$output" || { rm -f "$response"; return 1; }
    rm -f "$response"
    return 0
  fi
  if [[ "$status" == 400 ]] && grep -q 'ParameterNotFound' "$response"; then
    rm -f "$response"
    return 2
  fi
  log "SSM GetParameter ${name} answered HTTP ${status}: $(head -c 300 "$response")"
  rm -f "$response"
  return 1
}

# Waits (bounded) for the drop-in the Lambda writes once it has planned this instance's join.
wait_for_dropin() { # instance-id region output-file
  local name="${PARAMETER_PATH}/instances/$1/dropin" deadline token rc
  deadline=$((SECONDS + DROPIN_WAIT_SECONDS))
  while ((SECONDS < deadline)); do
    # A fresh token each round: credentials rotate, and a long wait must not outlive them.
    token="$(imds_token)" || { sleep "$POLL_INTERVAL"; continue; }
    rc=0
    ssm_get_parameter "$name" "$2" "$token" "$3" || rc=$?
    ((rc == 0)) && return 0
    ((rc == 2)) && log "waiting for ${name}"
    sleep "$POLL_INTERVAL"
  done
  die "no drop-in at ${name} after ${DROPIN_WAIT_SECONDS}s; the launch lifecycle hook will abandon this instance"
}

main() {
  local token instance_id region dropin staged
  install_etcd
  write_unit
  token="$(imds_token)" || die "IMDSv2 token request failed"
  instance_id="$(imds_get meta-data/instance-id "$token")" || die "could not read the instance ID"
  region="$(imds_get meta-data/placement/region "$token")" || die "could not read the region"
  [[ "$instance_id" =~ ^i-[0-9a-f]+$ ]] || die "unexpected instance ID '${instance_id}'"
  log "instance ${instance_id} in ${region}, waiting for its drop-in under ${PARAMETER_PATH}"

  dropin="${SYSTEMD_DIR}/etcd.service.d/99-elastic-etcd.conf"
  # Staged next to its final place and renamed, so systemd never sees half a file.
  staged="$(mktemp "${dropin}.XXXXXX")"
  wait_for_dropin "$instance_id" "$region" "$staged"
  # The drop-in must configure the service, nothing else: refuse anything whose first section (after comments
  # and blank lines) is not [Service].
  [[ "$(grep -v -m1 -e '^#' -e '^[[:space:]]*$' "$staged")" == "[Service]" ]] || { rm -f "$staged"; die "the stored drop-in does not start with [Service]"; }
  chmod 0644 "$staged"
  mv -f "$staged" "$dropin"

  systemctl daemon-reload
  systemctl enable etcd
  systemctl start etcd
  log "etcd started"
}

main "$@"
