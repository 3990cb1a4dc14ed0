#!/usr/bin/env bash
# elastic-etcd instance boot: install etcd (checksum-verified, every download bounded), write its unit and the
# static settings drop-in, wait for the drop-in that the lifecycle Lambda stored in SSM Parameter Store for THIS
# instance, restore etcd's data from a snapshot when the Lambda asked for it (instances/<id>/restore), then start
# etcd with it.
#
# Values in @AT_SIGNS@ are filled in at synth time by infra/userdata.ts, which also drops the comment lines (EC2
# takes 16 KB of user data); the same text is shellchecked and run by test/infra. Environment variables override where the script talks to and writes, for tests only:
#   AWS_EC2_METADATA_SERVICE_ENDPOINT  IMDS base URL (default http://169.254.169.254)
#   AWS_ENDPOINT_URL_SSM               SSM endpoint (default https://ssm.<region>.<partition DNS suffix>)
#   AWS_ENDPOINT_URL_S3                S3 endpoint, path-style (default https://<bucket>.s3.<region>.<suffix>)
#   ELASTIC_ETCD_SYSTEMD_DIR           where units go (default /etc/systemd/system)
#   ELASTIC_ETCD_BIN_DIR               where etcd is installed (default /usr/local/bin)
#   ELASTIC_ETCD_SKIP_INSTALL=1        etcd is already installed
#   ELASTIC_ETCD_POLL_INTERVAL         seconds between polls for the drop-in
#   ELASTIC_ETCD_PKI_DIR               where the TLS files go (default /etc/etcd/pki, CLUSTER_DEFAULTS.pkiDir)
#   ELASTIC_ETCD_USER                  the user etcd runs as and that owns the TLS files (default etcd)
# Run with the argument tls-refresh (as elastic-etcd-tls-refresh.service does, from the copy this script installs
# at ${BIN_DIR}/elastic-etcd-tls-refresh), it only refetches instances/<id>/tls and replaces the changed files.
# (ELASTIC_ETCD_BIN_DIR also decides the restore tool: etcdutl when it is there, else etcdctl.)
set -euo pipefail

readonly PARAMETER_PATH='@PARAMETER_PATH@'
readonly ETCD_VERSION='@ETCD_VERSION@'
readonly ETCD_ARCH='@ETCD_ARCH@'
readonly ETCD_SHA256='@ETCD_SHA256@'
readonly INSTALL_METHOD='@INSTALL_METHOD@'
readonly RELEASE_BASE_URL='@RELEASE_BASE_URL@'
readonly S3_BUCKET='@S3_BUCKET@'
readonly S3_KEY='@S3_KEY@'
readonly DOWNLOAD_TIMEOUT_SECONDS='@DOWNLOAD_TIMEOUT_SECONDS@'
readonly DROPIN_WAIT_SECONDS='@DROPIN_WAIT_SECONDS@'
# One ETCD_<NAME>=<value> per line, validated at synth time (no quotes, backslashes, '%' or '$').
readonly EXTRA_SETTINGS='@EXTRA_SETTINGS@'

readonly IMDS="${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}"
readonly SYSTEMD_DIR="${ELASTIC_ETCD_SYSTEMD_DIR:-/etc/systemd/system}"
readonly BIN_DIR="${ELASTIC_ETCD_BIN_DIR:-/usr/local/bin}"
readonly POLL_INTERVAL="${ELASTIC_ETCD_POLL_INTERVAL:-5}"
readonly ETCD_BIN="${BIN_DIR}/etcd"
readonly PKI_DIR="${ELASTIC_ETCD_PKI_DIR:-/etc/etcd/pki}"
readonly ETCD_USER="${ELASTIC_ETCD_USER:-etcd}"
readonly REFRESH="${BIN_DIR}/elastic-etcd-tls-refresh"
readonly DOWNLOAD_RETRIES=3
# Every download is bounded: a connection must open within 10 s, each attempt ends after
# DOWNLOAD_TIMEOUT_SECONDS, a transfer slower than 1 KiB/s for 30 s counts as stalled, and the retries together
# stop after (retries + 1) attempts' worth of time. A stalled mirror fails the boot instead of hanging it.
readonly -a DOWNLOAD_BOUNDS=(
  --connect-timeout 10
  --max-time "$DOWNLOAD_TIMEOUT_SECONDS"
  --speed-limit 1024 --speed-time 30
  --retry "$DOWNLOAD_RETRIES" --retry-delay 2 --retry-connrefused
  --retry-max-time "$(((DOWNLOAD_RETRIES + 1) * (DOWNLOAD_TIMEOUT_SECONDS + 2)))"
)

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

# curl configuration lines carrying the instance role's credentials, for `curl --config -` (so they never appear
# on a command line, where `ps` would show them) together with --aws-sigv4 (curl >= 7.75; no AWS CLI needed).
sigv4_credentials() { # token
  local role creds
  role="$(imds_get meta-data/iam/security-credentials/ "$1" | head -n 1)" || return 1
  creds="$(imds_get "meta-data/iam/security-credentials/${role}" "$1")" || return 1
  printf 'user = "%s:%s"\n' "$(json_field AccessKeyId <<<"$creds")" "$(json_field SecretAccessKey <<<"$creds")"
  printf 'header = "X-Amz-Security-Token: %s"\n' "$(json_field Token <<<"$creds")"
}

# --- install ------------------------------------------------------------------------------------------------
machine_arch() {
  case "$(uname -m)" in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    *) echo "unsupported-$(uname -m)" ;;
  esac
}

# Refuses a tarball whose SHA-256 is not the pinned one, then installs its binaries.
verify_and_unpack() { # tarball-path source-description
  local actual
  actual="$(sha256sum "$1" | cut -d ' ' -f 1)"
  if [[ "$actual" != "$ETCD_SHA256" ]]; then
    die "SHA-256 mismatch for ${2}: expected ${ETCD_SHA256}, got ${actual}; refusing to install it"
  fi
  log "SHA-256 of ${2} verified (${actual})"
  local dir
  dir="$(dirname "$1")/unpacked"
  mkdir -p "$dir"
  tar -xzf "$1" -C "$dir" --strip-components=1 || die "could not unpack ${2}"
  mkdir -p "$BIN_DIR"
  local tool
  for tool in etcd etcdctl etcdutl; do
    # etcdutl ships with 3.5 and later only.
    [[ -f "${dir}/${tool}" ]] && install -m 0755 "${dir}/${tool}" "${BIN_DIR}/${tool}"
  done
  [[ -x "$ETCD_BIN" ]] || die "${2} holds no etcd binary"
}

download() { # url output-file [extra curl arguments...]
  local url="$1" output="$2" rc=0
  shift 2
  curl -fsSL "${DOWNLOAD_BOUNDS[@]}" "$@" -o "$output" "$url" || rc=$?
  ((rc == 0)) || die "download of ${url} failed (curl exit ${rc}) within its bound of $((DOWNLOAD_RETRIES + 1)) attempts of at most ${DOWNLOAD_TIMEOUT_SECONDS}s"
}

tarball_name() { echo "etcd-v${ETCD_VERSION}-linux-${ETCD_ARCH}.tar.gz"; }

install_release() { # workdir
  local url
  url="${RELEASE_BASE_URL}/v${ETCD_VERSION}/$(tarball_name)"
  log "downloading ${url}"
  download "$url" "$1/$(tarball_name)"
  verify_and_unpack "$1/$(tarball_name)" "$url"
}

# The tarball from an S3 bucket (the private-subnet path: reached through the S3 gateway endpoint), signed with
# the instance role's credentials.
install_s3() { # workdir region domain token
  local url config
  if [[ -n "${AWS_ENDPOINT_URL_S3:-}" ]]; then
    url="${AWS_ENDPOINT_URL_S3%/}/${S3_BUCKET}/${S3_KEY}"
  else
    url="https://${S3_BUCKET}.s3.${2}.${3}/${S3_KEY}"
  fi
  log "downloading ${url}"
  config="$(sigv4_credentials "$4")" || die "could not read the instance role's credentials from IMDS"
  download "$url" "$1/$(tarball_name)" --config - --aws-sigv4 "aws:amz:${2}:s3" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' <<<"$config"
  verify_and_unpack "$1/$(tarball_name)" "$url"
}

install_commands() {
  : # @INSTALL_COMMANDS@
}

# Whatever the method, the binary must be exactly the pinned release: a baked AMI or custom commands that bring
# another version would otherwise join the cluster unnoticed.
check_installed_version() {
  local reported
  reported="$("$ETCD_BIN" --version 2>/dev/null | sed -n 's/^etcd Version: *//p' | head -n 1)" || true
  [[ "$reported" == "$ETCD_VERSION" ]] || die "${ETCD_BIN} reports version '${reported}', expected ${ETCD_VERSION}"
  log "etcd ${reported} installed at ${ETCD_BIN}"
}

install_etcd() { # region domain token
  if [[ "${ELASTIC_ETCD_SKIP_INSTALL:-0}" == 1 ]]; then
    log "skipping the etcd install (ELASTIC_ETCD_SKIP_INSTALL=1)"
    return
  fi
  [[ "$(machine_arch)" == "$ETCD_ARCH" ]] || die "this machine is $(uname -m) but the stack pinned etcd for ${ETCD_ARCH}"
  local workdir
  workdir="$(mktemp -d)"
  case "$INSTALL_METHOD" in
    release) install_release "$workdir" ;;
    s3) install_s3 "$workdir" "$1" "$2" "$3" ;;
    commands) install_commands ;;
    preinstalled) [[ -x "$ETCD_BIN" ]] || die "install method 'preinstalled' but ${ETCD_BIN} is missing" ;;
    *) die "unknown install method ${INSTALL_METHOD}" ;;
  esac
  rm -rf "$workdir"
  check_installed_version
}

# --- the unit -----------------------------------------------------------------------------------------------
# All etcd configuration arrives as ETCD_* variables from the drop-ins; the unit itself carries none.
# DynamicUser + StateDirectory give etcd its own unprivileged user and a private /var/lib/etcd; with TLS the user
# is a static system user (DynamicUser then uses it, systemd.exec(5)) so that it can own the key before etcd starts.
# TimeoutStartSec=infinity: with Type=notify, etcd reports ready only once it has joined and caught up, and a
# learner receiving a large snapshot can take longer than any fixed bound; a timeout would kill it and restart the
# transfer from zero, so it could never finish. A member that never becomes healthy is the Lambda's to judge
# (it is never promoted, and the launch hook abandons it), not systemd's.
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
TimeoutStartSec=infinity
DynamicUser=yes
User=${ETCD_USER}
StateDirectory=etcd
StateDirectoryMode=0700
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
UNIT
}

# The construct's etcdSettings, as a static drop-in that sorts before the Lambda's 99-elastic-etcd.conf.
write_settings_dropin() {
  local file="${SYSTEMD_DIR}/etcd.service.d/50-elastic-etcd-settings.conf" line
  [[ -n "$EXTRA_SETTINGS" ]] || return 0
  {
    echo '# Written by the elastic-etcd boot script from the construct prop etcdSettings; static.'
    echo '[Service]'
    while IFS= read -r line; do
      [[ -n "$line" ]] && printf 'Environment="%s"\n' "$line"
    done <<<"$EXTRA_SETTINGS"
  } >"$file"
  chmod 0644 "$file"
}

# --- SSM ----------------------------------------------------------------------------------------------------
# GetParameter over the JSON 1.1 protocol, signed by curl itself, WithDecryption (ignored for a String parameter;
# a SecureString such as instances/<id>/tls is decrypted by SSM with the instance role's kms:Decrypt).
# Writes the parameter's value, byte for byte, to the output file; returns 2 when the parameter does not exist
# yet, 1 on any other failure.
ssm_get_parameter() { # name region domain token output-file
  local name="$1" region="$2" domain="$3" token="$4" output="$5" config endpoint response status rc=1
  config="$(sigv4_credentials "$token")" || return 1
  endpoint="${AWS_ENDPOINT_URL_SSM:-https://ssm.${region}.${domain}}"
  response="$(mktemp)"
  status="$(
    curl -sS --connect-timeout 5 --max-time 10 --config - --aws-sigv4 "aws:amz:${region}:ssm" \
      -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Target: AmazonSSM.GetParameter' \
      --data-binary "{\"Name\":\"${name}\",\"WithDecryption\":true}" -o "$response" -w '%{http_code}' "${endpoint%/}/" <<<"$config"
  )" || status=000
  if [[ "$status" == 200 ]]; then
    json_field Parameter.Value <"$response" >"$output" && rc=0
  elif [[ "$status" == 400 ]] && grep -q 'ParameterNotFound' "$response"; then
    rc=2
  else
    log "SSM GetParameter ${name} answered HTTP ${status}: $(head -c 300 "$response")"
  fi
  rm -f "$response"
  return "$rc"
}

# Waits (bounded) for the drop-in the Lambda writes once it has planned this instance's join.
wait_for_dropin() { # instance-id region domain output-file
  local name="${PARAMETER_PATH}/instances/$1/dropin" deadline token rc
  deadline=$((SECONDS + DROPIN_WAIT_SECONDS))
  while ((SECONDS < deadline)); do
    # A fresh token each round: credentials rotate, and a long wait must not outlive them.
    token="$(imds_token)" || { sleep "$POLL_INTERVAL"; continue; }
    rc=0
    ssm_get_parameter "$name" "$2" "$3" "$token" "$4" || rc=$?
    ((rc == 0)) && return 0
    ((rc == 2)) && log "waiting for ${name}"
    sleep "$POLL_INTERVAL"
  done
  die "no drop-in at ${name} after ${DROPIN_WAIT_SECONDS}s; the launch lifecycle hook will abandon this instance"
}

# --- restore from a snapshot ------------------------------------------------------------------------------
# Prints the values of ETCD_* settings from a systemd drop-in, one a line, unescaped as systemd reads them
# (render.ts writes `Environment="ETCD_X=value"` with \\ \" escaped and % doubled); fails naming the first one
# missing. Parsed, never sourced: the file came from SSM.
dropin_setting() { # dropin-file ETCD_NAME...
  python3 -c '
import re, sys
found = {}
with open(sys.argv[1], encoding="utf-8") as dropin:
    for line in dropin:
        match = re.fullmatch(r"Environment=\"((?:[^\"\\\\]|\\\\.)*)\"\s*", line)
        if match is None:
            continue
        assignment = re.sub(r"\\\\(.)", r"\1", match.group(1)).replace("%%", "%")
        key, _, value = assignment.partition("=")
        found[key] = value
for wanted in sys.argv[2:]:
    if wanted not in found:
        sys.exit("the drop-in sets no " + wanted)
print("\n".join(found[wanted] for wanted in sys.argv[2:]))
' "$@"
}

# Validates the instance restore parameter (src/adapters/aws/restore-parameters.ts) and prints its bucket, key,
# sha256, size and revision, one per line. Values are checked here because they go into a URL and a log line.
restore_fields() { # restore-json-file
  python3 -c '
import json, re, sys
value = json.load(open(sys.argv[1], encoding="utf-8"))
checks = [
    ("format", lambda v: v == 1),
    ("bucket", lambda v: isinstance(v, str) and re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", v)),
    ("key", lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_./=-]{1,1024}", v)),
    ("sha256", lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v)),
    ("size", lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0),
    ("revision", lambda v: isinstance(v, str) and re.fullmatch(r"[0-9]+", v)),
]
for field, ok in checks:
    if not ok(value.get(field)):
        sys.stderr.write("field %s is missing or malformed\n" % field)
        sys.exit(1)
for field in ("bucket", "key", "sha256", "size", "revision"):
    print(value[field])
' "$1"
}

# Reads instances/<id>/<file> (restore, tls): 0 with the value in the output file, 2 when there is none.
# The Lambda writes both BEFORE the drop-in, so once the drop-in is here an absent parameter is an answer ("no
# restore"; "no TLS material"); any other failure is retried, and in the end fails the boot: starting empty where
# a restore was asked for, or without TLS, would be worse than not starting.
read_instance_parameter() { # instance-id file region domain output-file
  local name="${PARAMETER_PATH}/instances/$1/$2" attempt token rc
  shift
  for attempt in 1 2 3 4 5; do
    rc=1
    if token="$(imds_token)"; then
      rc=0
      ssm_get_parameter "$name" "$2" "$3" "$token" "$4" || rc=$?
    fi
    ((rc == 0 || rc == 2)) && return "$rc"
    log "reading ${name} failed (attempt ${attempt} of 5)"
    sleep "$POLL_INTERVAL"
  done
  die "could not read ${name}; not starting etcd"
}

# Downloads s3://bucket/key with the instance role (bounded like every download) and checks its size and SHA-256.
download_snapshot() { # bucket key region domain output-file
  local url config token size actual rc=0
  if [[ -n "${AWS_ENDPOINT_URL_S3:-}" ]]; then
    url="${AWS_ENDPOINT_URL_S3%/}/${1}/${2}"
  else
    url="https://${1}.s3.${3}.${4}/${2}"
  fi
  log "downloading snapshot s3://${1}/${2}"
  token="$(imds_token)" || die "IMDSv2 token request failed"
  config="$(sigv4_credentials "$token")" || die "could not read the instance role's credentials from IMDS"
  curl -fsSL "${DOWNLOAD_BOUNDS[@]}" --config - --aws-sigv4 "aws:amz:${3}:s3" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
    -o "$5" "$url" <<<"$config" || rc=$?
  # curl -f exits 22 on an HTTP error such as 404 NoSuchKey or 403 AccessDenied.
  ((rc == 0)) || die "snapshot s3://${1}/${2} could not be downloaded (curl exit ${rc}); not starting etcd"
}

# Restores the snapshot the Lambda named for this instance, before etcd's first start. The drop-in of a
# restore-wave member is a static bootstrap with a new cluster token; the snapshot is restored with exactly its
# name, initial cluster, token and peer URLs, so the restored member is the member the drop-in describes.
#
# Ownership: the unit runs etcd as a DynamicUser with StateDirectory=etcd, and the restore runs as root before
# etcd's first start. That is fine: when the unit starts, systemd moves an existing /var/lib/etcd to
# /var/lib/private/etcd (leaving a symlink) and, because its owner is not the unit's user, changes the ownership
# of the directory and everything below it to that user (systemd.exec(5), StateDirectory=).
restore_snapshot() { # instance-id region domain dropin-file
  local restore name cluster token peers data_dir fields bucket key sha256 size revision work actual_size actual_sha tool rc=0
  local -a command
  restore="$(mktemp)"
  read_instance_parameter "$1" restore "$2" "$3" "$restore" || rc=$?
  if ((rc == 2)); then
    rm -f "$restore"
    return 0
  fi
  fields="$(restore_fields "$restore" 2>&1)" || { rm -f "$restore"; die "the restore parameter of $1 is malformed: ${fields}"; }
  rm -f "$restore"
  { read -r bucket; read -r key; read -r sha256; read -r size; read -r revision; } <<<"$fields"

  fields="$(dropin_setting "$4" ETCD_DATA_DIR ETCD_NAME ETCD_INITIAL_CLUSTER ETCD_INITIAL_CLUSTER_TOKEN ETCD_INITIAL_ADVERTISE_PEER_URLS 2>&1)" ||
    die "${fields}; cannot restore"
  { read -r data_dir; read -r name; read -r cluster; read -r token; read -r peers; } <<<"$fields"
  [[ "$data_dir" == /* && "$data_dir" != */ ]] || die "ETCD_DATA_DIR '${data_dir}' is not an absolute path"
  # A reboot after a restore: the data dir holds the restored (and since then changed) data. Never restore over
  # it, and need not download: the snapshot may since have expired.
  if [[ -d "${data_dir}/member" ]]; then
    log "restore of s3://${bucket}/${key} skipped: ${data_dir}/member already exists (never restoring over data)"
    return 0
  fi

  # Beside the data dir (same file system), so the restored member/ is renamed into place, never copied.
  mkdir -p "$(dirname "$data_dir")"
  work="$(mktemp -d "${data_dir}.restore.XXXXXX")"
  download_snapshot "$bucket" "$key" "$2" "$3" "${work}/snapshot.db"
  actual_size="$(stat -c %s "${work}/snapshot.db")"
  if [[ "$actual_size" != "$size" ]]; then
    rm -rf "$work"
    die "snapshot s3://${bucket}/${key} has ${actual_size} bytes, expected ${size}; refusing to restore it, not starting etcd"
  fi
  actual_sha="$(sha256sum "${work}/snapshot.db" | cut -d ' ' -f 1)"
  if [[ "$actual_sha" != "$sha256" ]]; then
    rm -rf "$work"
    die "SHA-256 mismatch for snapshot s3://${bucket}/${key}: expected ${sha256}, got ${actual_sha}; refusing to restore it, not starting etcd"
  fi
  log "snapshot s3://${bucket}/${key} verified (${actual_size} bytes, SHA-256 ${actual_sha}, revision ${revision})"

  # etcd 3.5 moved the offline restore to etcdutl (etcdctl's is deprecated there); 3.4 has only etcdctl.
  if [[ -x "${BIN_DIR}/etcdutl" ]]; then
    tool=etcdutl
    command=("${BIN_DIR}/etcdutl")
  else
    tool=etcdctl
    command=(env ETCDCTL_API=3 "${BIN_DIR}/etcdctl")
  fi
  if ! "${command[@]}" snapshot restore "${work}/snapshot.db" --name "$name" --initial-cluster "$cluster" \
    --initial-cluster-token "$token" --initial-advertise-peer-urls "$peers" --data-dir "${work}/data" >&2; then
    rm -rf "$work"
    die "${tool} snapshot restore of s3://${bucket}/${key} failed; not starting etcd"
  fi
  mkdir -p "$data_dir"
  chmod 0700 "$data_dir"
  mv "${work}/data/member" "${data_dir}/member"
  rm -rf "$work"
  log "restored s3://${bucket}/${key} (revision ${revision}) into ${data_dir} with ${tool} as ${name}, cluster token ${token}"
}

# --- TLS ----------------------------------------------------------------------------------------------------
# Checks instances/<id>/tls (JSON {format: 1, caCertificate, certificate, privateKey, notAfter}) and writes
# ca.crt, member.key and member.crt into PKI_DIR, each only when its content changed: all checked first, then
# staged (owned by ETCD_USER, the key 0600), then renamed into place one after the other, never half a file. etcd
# reads them again for each new connection, so a renewal needs no restart. Prints the files it replaced, or none.
write_tls_files() { # tls-json-file
  python3 -c '
import json, os, pwd, sys
tls, user, files, staged = json.load(open(sys.argv[1])), pwd.getpwnam(sys.argv[3]), [], []
assert tls["format"] == 1, "format is not 1"
for name, field, kind in ("ca.crt", "caCertificate", "CERTIFICATE"), ("member.key", "privateKey", "PRIVATE KEY"), ("member.crt", "certificate", "CERTIFICATE"):
    assert str(tls[field]).startswith("-----BEGIN %s-----" % kind), field + " is not a PEM " + kind
    files.append((os.path.join(sys.argv[2], name), tls[field], kind))
for path, data, kind in files:
    if os.path.isfile(path) and open(path).read() == data: continue
    with open(path + ".new", "w") as new:
        os.fchmod(new.fileno(), 0o600 if kind[0] == "P" else 0o644)
        os.fchown(new.fileno(), user.pw_uid, user.pw_gid)
        new.write(data)
    staged.append(path)
for path in staged:
    os.replace(path + ".new", path)
print(" ".join(os.path.basename(path) for path in staged) or "none")
' "$1" "$PKI_DIR" "$ETCD_USER"
}

# Fetches this instance's TLS material and writes its files: at boot before etcd starts, and from the hourly
# elastic-etcd-tls-refresh.timer (randomised delay) with this script's copy. Missing or malformed: fail, saying so.
install_tls() { # instance-id region domain consequence
  local tls="${PARAMETER_PATH}/instances/$1/tls" file rc=0 out
  file="$(mktemp)"
  read_instance_parameter "$1" tls "$2" "$3" "$file" || rc=$?
  ((rc == 0)) || { rm -f "$file"; die "${tls} does not exist; $4"; }
  id -u "$ETCD_USER" &>/dev/null || useradd -r -M -s /sbin/nologin "$ETCD_USER"
  install -d -m 0700 -o "$ETCD_USER" "$PKI_DIR"
  out="$(write_tls_files "$file" 2>&1)" || rc=$?
  # The value holds a private key: never left behind in /tmp, also when it is refused.
  rm -f "$file"
  ((rc == 0)) || die "${tls} is malformed: $(tail -n 1 <<<"$out"); $4"
  log "TLS files replaced in ${PKI_DIR}: ${out}"
  [[ -x "$REFRESH" ]] && return
  install -m 0700 "${BASH_SOURCE[0]}" "$REFRESH"
  printf '[Service]\nType=oneshot\nExecStart=%s tls-refresh\n' "$REFRESH" >"${SYSTEMD_DIR}/elastic-etcd-tls-refresh.service"
  printf '[Timer]\nOnCalendar=hourly\nRandomizedDelaySec=45m\nPersistent=true\n[Install]\nWantedBy=timers.target\n' >"${SYSTEMD_DIR}/elastic-etcd-tls-refresh.timer"
}

main() {
  local token instance_id region domain dropin staged cert
  token="$(imds_token)" || die "IMDSv2 token request failed"
  instance_id="$(imds_get meta-data/instance-id "$token")" || die "could not read the instance ID"
  region="$(imds_get meta-data/placement/region "$token")" || die "could not read the region"
  # The partition's DNS suffix (the commercial one differs from China's, for one): never assume it.
  domain="$(imds_get meta-data/services/domain "$token")" || die "could not read the partition's DNS suffix (meta-data/services/domain)"
  [[ "$instance_id" =~ ^i-[0-9a-f]+$ ]] || die "unexpected instance ID '${instance_id}'"
  [[ "$region" =~ ^[a-z0-9-]+$ ]] || die "unexpected region '${region}'"
  [[ "$domain" =~ ^[a-z0-9.-]+$ ]] || die "unexpected partition DNS suffix '${domain}'"
  if [[ "${1:-}" == tls-refresh ]]; then
    install_tls "$instance_id" "$region" "$domain" "the files are left as they are"
    return
  fi
  log "instance ${instance_id} in ${region} (${domain}), etcd ${ETCD_VERSION} via ${INSTALL_METHOD}"

  install_etcd "$region" "$domain" "$token"
  write_unit
  write_settings_dropin
  log "waiting for the drop-in under ${PARAMETER_PATH}"

  dropin="${SYSTEMD_DIR}/etcd.service.d/99-elastic-etcd.conf"
  # Staged next to its final place and renamed, so systemd never sees half a file.
  staged="$(mktemp "${dropin}.XXXXXX")"
  wait_for_dropin "$instance_id" "$region" "$domain" "$staged"
  # The drop-in must configure the service, nothing else: refuse anything whose first section (after comments
  # and blank lines) is not [Service].
  [[ "$(grep -v -m1 -e '^#' -e '^[[:space:]]*$' "$staged")" == "[Service]" ]] || { rm -f "$staged"; die "the stored drop-in does not start with [Service]"; }
  chmod 0644 "$staged"
  mv -f "$staged" "$dropin"
  # TLS is what the drop-in says: its certificate file must be the one written here. Plain HTTP: nothing to do.
  if cert="$(dropin_setting "$dropin" ETCD_CERT_FILE 2>/dev/null)"; then
    [[ "$cert" == "${PKI_DIR}/member.crt" ]] || die "ETCD_CERT_FILE is not ${PKI_DIR}/member.crt; not starting etcd"
    install_tls "$instance_id" "$region" "$domain" "not starting etcd without TLS"
  fi
  restore_snapshot "$instance_id" "$region" "$domain" "$dropin"

  systemctl daemon-reload
  systemctl enable etcd
  [[ -z "$cert" ]] || systemctl enable --now elastic-etcd-tls-refresh.timer
  # --no-block: a learner may take long to report ready (see TimeoutStartSec); the boot need not wait for it.
  systemctl start --no-block etcd
  log "etcd start requested"
}

main "$@"
