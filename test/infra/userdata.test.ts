// The instance boot script: shellcheck-clean, renders safely, installs exactly the pinned etcd (checksum-verified,
// every download bounded), and really boots etcd from the drop-in it fetched. The run tests serve IMDSv2, SSM
// (JSON 1.1 GetParameter), S3 and a release mirror from tiny loopback servers, replace systemctl with a double
// that starts the real /usr/bin/etcd from the drop-ins the script wrote, and wait for etcd's /health.
import { renderDropin } from '../../src/core/render.js';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { arch, tmpdir } from 'node:os';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { DEFAULT_ETCD_VERSION, ETCD_RELEASE_SHA256 } from '../../infra/etcd-releases.js';
import {
  BOOT_SCRIPT_PATH,
  InvalidBootScriptOptionError,
  MAX_USER_DATA_BYTES,
  renderBootScript,
  stripIndentation,
  type BootScriptOptions,
} from '../../infra/userdata.js';
import { allocateAddresses, CLIENT_PORT, PEER_PORT, releaseAddresses } from '../harness/addresses.js';
import { binaryPaths, createCluster, restoreSnapshot, saveSnapshot, type EtcdVersionName } from '../harness/index.js';
import { httpsJson, TestPki, tryHttpsJson, type TlsClientIdentity } from '../harness/tls.js';
import { CLUSTER_DEFAULTS, MEMBER_TLS_FILES, memberTlsPaths } from '../../src/core/defaults.js';

const execFileAsync = promisify(execFile);

const PINNED_AMD64 = ETCD_RELEASE_SHA256[DEFAULT_ETCD_VERSION]?.amd64 ?? '';
const BASE: BootScriptOptions = {
  parameterPath: '/elastic-etcd/test',
  release: { version: DEFAULT_ETCD_VERSION, architecture: 'amd64', sha256: PINNED_AMD64 },
  install: { method: 'release' },
  dropinWaitSeconds: 30,
};

async function shellcheck(path: string): Promise<void> {
  // Exit status 0 means no finding at any severity.
  await execFileAsync('shellcheck', ['--severity=style', path]);
}

describe('shellcheck', () => {
  test('the template and every rendering are clean', async () => {
    await shellcheck(BOOT_SCRIPT_PATH);
    const dir = mkdtempSync(join(tmpdir(), 'elastic-etcd-shellcheck-'));
    try {
      const renderings: BootScriptOptions[] = [
        BASE,
        { ...BASE, install: { method: 'preinstalled' } },
        { ...BASE, install: { method: 's3', bucket: 'my-artifacts', key: 'etcd/etcd-v3.5.30-linux-amd64.tar.gz' } },
        { ...BASE, install: { method: 'commands', commands: ['dnf install -y etcd', 'ln -sf /usr/bin/etcd /usr/local/bin/etcd'] } },
        { ...BASE, settings: { ETCD_QUOTA_BACKEND_BYTES: '8589934592', ETCD_AUTO_COMPACTION_RETENTION: '1h' } },
      ];
      for (const [index, options] of renderings.entries()) {
        const path = join(dir, `boot-${index}.sh`);
        writeFileSync(path, renderBootScript(options));
        await shellcheck(path);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('renderBootScript', () => {
  test('fills every placeholder; the default release is the pinned 3.5.30 with its published SHA-256', () => {
    assert.equal(DEFAULT_ETCD_VERSION, '3.5.30');
    // kubespray's checksums.yml, etcd_binary_checksums amd64 3.5.30 (see infra/etcd-releases.ts).
    assert.equal(PINNED_AMD64, 'a495115162845640be08c6cda069ff961260dbced53207c5a83b1b006ff2ea8e');
    const script = renderBootScript({
      ...BASE,
      install: { method: 'release', baseUrl: 'https://mirror.example/etcd/' },
      settings: { ETCD_QUOTA_BACKEND_BYTES: '8589934592', ETCD_AUTO_COMPACTION_MODE: 'periodic' },
    });
    assert.match(script, /^readonly PARAMETER_PATH='\/elastic-etcd\/test'$/m);
    assert.match(script, /^readonly ETCD_VERSION='3\.5\.30'$/m);
    assert.match(script, /^readonly ETCD_ARCH='amd64'$/m);
    assert.match(script, new RegExp(`^readonly ETCD_SHA256='${PINNED_AMD64}'$`, 'm'));
    assert.match(script, /^readonly INSTALL_METHOD='release'$/m);
    assert.match(script, /^readonly RELEASE_BASE_URL='https:\/\/mirror\.example\/etcd'$/m);
    assert.match(script, /^readonly DOWNLOAD_TIMEOUT_SECONDS='300'$/m);
    assert.match(script, /^readonly DROPIN_WAIT_SECONDS='30'$/m);
    assert.match(script, /^readonly EXTRA_SETTINGS='ETCD_AUTO_COMPACTION_MODE=periodic\nETCD_QUOTA_BACKEND_BYTES=8589934592'$/m);
    assert.doesNotMatch(script, /'@[A-Z_0-9]+@'/);
    // No hard-coded partition: the SSM and S3 hosts use the DNS suffix read from instance metadata.
    assert.doesNotMatch(script, /amazonaws\.com/);
    assert.match(script, /meta-data\/services\/domain/);
    // Every download is bounded.
    for (const bound of ['--connect-timeout', '--max-time', '--retry', '--retry-max-time', '--speed-time'])
      assert.ok(script.includes(bound), bound);
  });

  test('the TLS files go where the Lambda points etcd: CLUSTER_DEFAULTS.pkiDir and MEMBER_TLS_FILES', () => {
    const script = readFileSync(BOOT_SCRIPT_PATH, 'utf8');
    assert.ok(script.includes(`readonly PKI_DIR="\${ELASTIC_ETCD_PKI_DIR:-${CLUSTER_DEFAULTS.pkiDir}}"`));
    const files: [string, string][] = [
      [MEMBER_TLS_FILES.trustedCaFile, 'caCertificate'],
      [MEMBER_TLS_FILES.keyFile, 'privateKey'],
      [MEMBER_TLS_FILES.certFile, 'certificate'],
    ];
    for (const [file, field] of files) {
      assert.ok(script.includes(`("${file}", "${field}", `), file);
    }
    assert.ok(script.includes(`"\${PKI_DIR}/${MEMBER_TLS_FILES.certFile}"`));
  });

  test('the rendering drops comments, blank lines and indentation, but keeps the Python programs valid', async () => {
    const script = renderBootScript(BASE);
    assert.doesNotMatch(script, /^$/m);
    assert.doesNotMatch(script, /^\s*#(?!!)/m);
    assert.doesNotMatch(script, /^[a-z_0-9]+\(\) \{ #/m);
    // Every Python program compiles as it is rendered (indentation is syntax there).
    const programs = [...script.matchAll(/python3 -c '\n([\s\S]*?)\n'/g)].map((m) => m[1] ?? '');
    assert.equal(programs.length, 4);
    for (const program of programs) {
      // Exit status 0: the program parses (a SyntaxError or IndentationError fails the call).
      await execFileAsync('python3', ['-c', 'import ast, sys; ast.parse(sys.argv[1])', program]);
    }
    assert.equal(
      stripIndentation('f() {\n  python3 -c \'\nif x:\n        y\n\' "$1"\n\n  echo\n}'),
      'f() {\npython3 -c \'\nif x:\n  y\n\' "$1"\necho\n}',
    );
  });

  test('user data headroom: the default rendering leaves room for settings and install commands under 16 KB', () => {
    const size = Buffer.byteLength(renderBootScript(BASE), 'utf8');
    assert.ok(size <= MAX_USER_DATA_BYTES - 400, `${size} bytes of ${MAX_USER_DATA_BYTES}`);
  });

  test('refuses values that could break out of the script', () => {
    const bad: BootScriptOptions[] = [
      { ...BASE, parameterPath: "/x'; rm -rf / #" },
      { ...BASE, parameterPath: 'relative/path' },
      { ...BASE, parameterPath: '/trailing/' },
      { ...BASE, release: { ...BASE.release, version: '3.5.30; reboot' } },
      { ...BASE, release: { ...BASE.release, version: 'latest' } },
      { ...BASE, release: { ...BASE.release, sha256: 'abc' } },
      { ...BASE, release: { ...BASE.release, sha256: PINNED_AMD64.toUpperCase() } },
      { ...BASE, release: { ...BASE.release, architecture: 'x86' as 'amd64' } },
      { ...BASE, dropinWaitSeconds: 0 },
      { ...BASE, dropinWaitSeconds: 1.5 },
      { ...BASE, downloadTimeoutSeconds: 0 },
      { ...BASE, install: { method: 'release', baseUrl: "https://x/'$(id)'" } },
      { ...BASE, install: { method: 's3', bucket: "b'; id", key: 'k' } },
      { ...BASE, install: { method: 's3', bucket: 'bucket', key: "k'$(id)" } },
      { ...BASE, install: { method: 'commands', commands: [] } },
      { ...BASE, install: { method: 'commands', commands: ["echo '@PARAMETER_PATH@'"] } },
      { ...BASE, settings: { ETCD_X: "a'b" } },
      { ...BASE, settings: { ETCD_X: 'a\nETCD_NAME=evil' } },
      { ...BASE, settings: { 'not-env': '1' } },
      // EC2 refuses user data above 16 KB: caught at synth time, not at the first launch.
      { ...BASE, install: { method: 'commands', commands: Array.from({ length: 100 }, (_, i) => `echo ${'x'.repeat(40)} ${i}`) } },
    ];
    for (const options of bad) {
      assert.throws(() => renderBootScript(options), InvalidBootScriptOptionError, JSON.stringify(options));
    }
  });
});

// --- the stand-ins ------------------------------------------------------------------------------------------------

const INSTANCE_ID = 'i-0123456789abcdef0';
const REGION = 'eu-west-1';
const ROLE = 'elastic-etcd-instance';
const CREDENTIALS = { AccessKeyId: 'AKIDSTANDIN', SecretAccessKey: 'secret/standin+key', Token: 'session-token-standin' };
const IMDS_TOKEN = 'imds-token-standin';
const ON_X86_64 = arch() === 'x64';

interface Recorded {
  readonly imds: string[];
  readonly ssm: { name: string; authorization: string; securityToken: string; target: string; withDecryption?: boolean }[];
  readonly s3: { url: string; authorization: string; securityToken: string; contentSha: string }[];
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += (chunk as Buffer).toString();
  return body;
}

/** IMDSv2: a PUT for a token, then GETs that must carry it (IMDSv1-style GETs are refused, as with HttpTokens=required). */
function imdsHandler(localIp: string, domain: string, recorded: Recorded) {
  const paths: Record<string, string> = {
    '/latest/meta-data/instance-id': INSTANCE_ID,
    '/latest/meta-data/local-ipv4': localIp,
    '/latest/meta-data/placement/region': REGION,
    '/latest/meta-data/services/domain': domain,
    '/latest/meta-data/iam/security-credentials/': ROLE,
    [`/latest/meta-data/iam/security-credentials/${ROLE}`]: JSON.stringify({ Code: 'Success', Type: 'AWS-HMAC', ...CREDENTIALS }),
  };
  return (req: IncomingMessage, res: ServerResponse): void => {
    recorded.imds.push(`${req.method ?? ''} ${req.url ?? ''}`);
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      res.writeHead(req.headers['x-aws-ec2-metadata-token-ttl-seconds'] ? 200 : 400).end(IMDS_TOKEN);
      return;
    }
    if (req.headers['x-aws-ec2-metadata-token'] !== IMDS_TOKEN) {
      res.writeHead(401).end();
      return;
    }
    const body = paths[req.url ?? ''];
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  };
}

/** SSM over JSON 1.1: answers ParameterNotFound `missesFirst` times, then the stored value. */
function ssmHandler(parameters: Map<string, string>, missesFirst: number, recorded: Recorded) {
  let misses = 0;
  return (req: IncomingMessage, res: ServerResponse): void => {
    void readBody(req).then((body) => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const { Name: name = '', WithDecryption: withDecryption } = JSON.parse(body) as { Name?: string; WithDecryption?: boolean };
      recorded.ssm.push({
        name,
        target,
        withDecryption,
        authorization: String(req.headers.authorization ?? ''),
        securityToken: String(req.headers['x-amz-security-token'] ?? ''),
      });
      const reply = (status: number, payload: object): void => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(payload));
      };
      if (target !== 'AmazonSSM.GetParameter') return reply(400, { __type: 'UnknownOperationException' });
      const value = parameters.get(name);
      if (value === undefined || misses < missesFirst) {
        misses++;
        return reply(400, { __type: 'ParameterNotFound', message: `${name} not found` });
      }
      reply(200, { Parameter: { Name: name, Type: 'String', Value: value, Version: 1, DataType: 'text' } });
    });
  };
}

/**
 * Release mirror and S3 stand-in: serves `files` by path; `/stall/...` answers headers and a first chunk, then
 * never another byte (what a stalled mirror looks like to curl). S3 requests are recorded with their signature.
 */
function downloadHandler(files: Map<string, Buffer>, recorded: Recorded, open: Set<ServerResponse>) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '';
    if (req.headers.authorization !== undefined) {
      recorded.s3.push({
        url,
        authorization: String(req.headers.authorization),
        securityToken: String(req.headers['x-amz-security-token'] ?? ''),
        contentSha: String(req.headers['x-amz-content-sha256'] ?? ''),
      });
    }
    if (url.startsWith('/stall/')) {
      open.add(res);
      res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': '1000000' });
      res.write(Buffer.alloc(16));
      return; // never ends: curl's --max-time / --speed-time must give up
    }
    const file = files.get(url);
    // S3 answers a missing key with 404 and a NoSuchKey error document.
    if (file === undefined && req.headers.authorization !== undefined)
      res
        .writeHead(404, { 'content-type': 'application/xml' })
        .end(
          `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`,
        );
    else if (file === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'application/gzip' }).end(file);
  };
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A release-shaped tarball whose `etcd` only prints `etcd Version: <reports>`. */
async function fakeReleaseTarball(version: string, reports: string): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'elastic-etcd-tarball-'));
  try {
    const top = `etcd-v${version}-linux-amd64`;
    mkdirSync(join(dir, top));
    for (const tool of ['etcd', 'etcdctl', 'etcdutl']) {
      writeFileSync(
        join(dir, top, tool),
        `#!/bin/sh\necho "${tool === 'etcd' ? 'etcd' : tool} Version: ${reports}"\necho "Git SHA: standin"\n`,
      );
      chmodSync(join(dir, top, tool), 0o755);
    }
    await execFileAsync('tar', ['-czf', join(dir, 'out.tar.gz'), '-C', dir, top]);
    return readFileSync(join(dir, 'out.tar.gz'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

// The systemctl double: logs its arguments; `start --no-block etcd` reads the drop-ins the script wrote (in
// systemd's order) and starts the real etcd (ETCD_BINARY, /usr/bin/etcd by default) with exactly their
// Environment= values, detached, recording the PID for the test to stop it.
const SYSTEMCTL_DOUBLE = `#!/usr/bin/env bash
set -euo pipefail
echo "$*" >>"$SYSTEMCTL_LOG"
if [[ "$*" == "start --no-block etcd" && "\${START_ETCD:-1}" == 1 ]]; then
  grep -qx "ExecStart=\${ELASTIC_ETCD_BIN_DIR:-/usr/local/bin}/etcd" "$ELASTIC_ETCD_SYSTEMD_DIR/etcd.service"
  env_args=()
  for dropin in "$ELASTIC_ETCD_SYSTEMD_DIR"/etcd.service.d/*.conf; do
    while IFS= read -r line; do
      env_args+=("$line")
    done < <(sed -n 's/^Environment="\\(.*\\)"$/\\1/p' "$dropin")
  done
  env -i PATH=/usr/bin:/bin "\${env_args[@]}" setsid "\${ETCD_BINARY:-/usr/bin/etcd}" >"$ETCD_LOG" 2>&1 </dev/null &
  echo $! >"$ETCD_PID_FILE"
fi
`;

// A curl wrapper that records every URL the script asks for, then runs the real curl.
const CURL_RECORDER = `#!/usr/bin/env bash
for arg in "$@"; do
  case "$arg" in http://*|https://*) echo "$arg" >>"$CURL_LOG" ;; esac
done
exec /usr/bin/curl "$@"
`;

async function waitForHealth(url: string, timeoutMs: number): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      last = await res.json();
      if ((last as { health?: string }).health === 'true') return last;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 100)); // poll interval, bounded by the deadline
  }
  throw new Error(`etcd at ${url} not healthy within ${timeoutMs} ms: ${String(last)}`);
}

interface Sandbox {
  readonly dir: string;
  readonly systemdDir: string;
  readonly binDir: string;
  readonly scriptPath: string;
  readonly env: NodeJS.ProcessEnv;
  readonly etcdPidFile: string;
  readonly etcdLog: string;
  readonly systemctlLog: string;
  readonly curlLog: string;
}

interface SandboxOptions {
  /** Install etcd for real (into the sandbox's bin dir) instead of skipping the install. */
  readonly install?: boolean;
  /** Let the systemctl double start the real etcd. */
  readonly startEtcd?: boolean;
  /** Extra environment, e.g. endpoint overrides; `undefined` removes a variable. */
  readonly env?: Record<string, string | undefined>;
}

/** Stops the etcd each sandbox's boot script started (SIGTERM, then waits for it) and deletes the sandbox. */
async function removeSandboxes(sandboxes: readonly Sandbox[]): Promise<void> {
  for (const sandbox of sandboxes) {
    if (existsSync(sandbox.etcdPidFile)) {
      const pid = Number(readFileSync(sandbox.etcdPidFile, 'utf8'));
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await waitForExit(pid, 10_000);
    }
    rmSync(sandbox.dir, { recursive: true, force: true });
  }
}

function makeSandbox(options: BootScriptOptions, imdsUrl: string, ssmUrl: string, sandboxOptions: SandboxOptions = {}): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'elastic-etcd-boot-'));
  const bin = join(dir, 'bin');
  const systemdDir = join(dir, 'systemd');
  const binDir = join(dir, 'usr-local-bin');
  mkdirSync(bin);
  mkdirSync(systemdDir);
  writeFileSync(join(bin, 'systemctl'), SYSTEMCTL_DOUBLE);
  chmodSync(join(bin, 'systemctl'), 0o755);
  writeFileSync(join(bin, 'curl'), CURL_RECORDER);
  chmodSync(join(bin, 'curl'), 0o755);
  const scriptPath = join(dir, 'boot-etcd.sh');
  writeFileSync(scriptPath, renderBootScript(options));
  const sandbox = {
    dir,
    systemdDir,
    binDir,
    scriptPath,
    etcdPidFile: join(dir, 'etcd.pid'),
    etcdLog: join(dir, 'etcd.log'),
    systemctlLog: join(dir, 'systemctl.log'),
    curlLog: join(dir, 'curl.log'),
  };
  const env: NodeJS.ProcessEnv = {
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: dir,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: imdsUrl,
    AWS_ENDPOINT_URL_SSM: ssmUrl,
    ELASTIC_ETCD_SYSTEMD_DIR: systemdDir,
    ...(sandboxOptions.install ? { ELASTIC_ETCD_BIN_DIR: binDir } : { ELASTIC_ETCD_SKIP_INSTALL: '1' }),
    ELASTIC_ETCD_POLL_INTERVAL: '0.2',
    // Never the machine's own /etc/etcd/pki or a new system user: the sandbox's dir, owned by an existing user.
    ELASTIC_ETCD_PKI_DIR: join(dir, 'pki'),
    ELASTIC_ETCD_USER: 'nobody',
    START_ETCD: sandboxOptions.startEtcd === false ? '0' : '1',
    SYSTEMCTL_LOG: sandbox.systemctlLog,
    CURL_LOG: sandbox.curlLog,
    ETCD_LOG: sandbox.etcdLog,
    ETCD_PID_FILE: sandbox.etcdPidFile,
  };
  for (const [key, value] of Object.entries(sandboxOptions.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return { ...sandbox, env };
}

function runScript(
  sandbox: Sandbox,
  timeoutMs: number,
  argv: readonly string[] = [sandbox.scriptPath],
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', argv, { env: sandbox.env, stdio: ['ignore', 'ignore', 'pipe'], timeout: timeoutMs });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

const read = (path: string): string => (existsSync(path) ? readFileSync(path, 'utf8') : '');

describe('boot script against IMDS, SSM, S3 and release-mirror stand-ins', () => {
  let ip = '';
  let imds: { server: Server; url: string };
  let imdsChina: { server: Server; url: string };
  let ssm: { server: Server; url: string };
  let mirror: { server: Server; url: string };
  const parameters = new Map<string, string>();
  const files = new Map<string, Buffer>();
  const stalled = new Set<ServerResponse>();
  const recorded: Recorded = { imds: [], ssm: [], s3: [] };
  const sandboxes: Sandbox[] = [];
  let goodTarball: Buffer = Buffer.alloc(0);
  const tarballName = `etcd-v${DEFAULT_ETCD_VERSION}-linux-amd64.tar.gz`;

  before(async () => {
    [ip = ''] = await allocateAddresses(1);
    imds = await listen(imdsHandler(ip, 'amazonaws.com', recorded));
    imdsChina = await listen(imdsHandler(ip, 'amazonaws.com.cn', { imds: [], ssm: [], s3: [] }));
    ssm = await listen(ssmHandler(parameters, 2, recorded));
    mirror = await listen(downloadHandler(files, recorded, stalled));
    goodTarball = await fakeReleaseTarball(DEFAULT_ETCD_VERSION, DEFAULT_ETCD_VERSION);
    files.set(`/good/v${DEFAULT_ETCD_VERSION}/${tarballName}`, goodTarball);
    files.set(`/tampered/v${DEFAULT_ETCD_VERSION}/${tarballName}`, Buffer.concat([goodTarball, Buffer.from('tampered')]));
    files.set(`/artifacts-bucket/etcd/${tarballName}`, goodTarball);
  });

  after(async () => {
    await removeSandboxes(sandboxes);
    for (const res of stalled) res.destroy();
    await Promise.all([imds, imdsChina, ssm, mirror].map((s) => new Promise((resolve) => s.server.close(resolve))));
    releaseAddresses([ip]);
  });

  test('writes the drop-in the Lambda stored, the static settings drop-in, and starts etcd with both', { timeout: 90_000 }, async () => {
    const sandbox = makeSandbox(
      { ...BASE, settings: { ETCD_QUOTA_BACKEND_BYTES: '4294967296', ETCD_AUTO_COMPACTION_RETENTION: '1' } },
      imds.url,
      ssm.url,
    );
    sandboxes.push(sandbox);
    const dataDir = join(sandbox.dir, 'data');
    // Exactly what the Lambda stores: the planner's settings rendered by the same renderer.
    const dropin = renderDropin({
      name: INSTANCE_ID,
      dataDir,
      initialAdvertisePeerURLs: [`http://${ip}:${PEER_PORT}`],
      listenPeerURLs: [`http://${ip}:${PEER_PORT}`],
      listenClientURLs: [`http://${ip}:${CLIENT_PORT}`],
      advertiseClientURLs: [`http://${ip}:${CLIENT_PORT}`],
      initialClusterState: 'new',
      initialCluster: [{ name: INSTANCE_ID, peerURL: `http://${ip}:${PEER_PORT}` }],
      initialClusterToken: 'boot-script-test',
    });
    parameters.set(`/elastic-etcd/test/instances/${INSTANCE_ID}/dropin`, dropin);

    const { code, stderr } = await runScript(sandbox, 60_000);
    assert.equal(code, 0, stderr);

    // The drop-in on disk is byte for byte what SSM served, and the unit takes its config from the drop-ins.
    assert.equal(readFileSync(join(sandbox.systemdDir, 'etcd.service.d', '99-elastic-etcd.conf'), 'utf8'), dropin);
    assert.equal(
      readFileSync(join(sandbox.systemdDir, 'etcd.service.d', '50-elastic-etcd-settings.conf'), 'utf8'),
      '# Written by the elastic-etcd boot script from the construct prop etcdSettings; static.\n[Service]\n' +
        'Environment="ETCD_AUTO_COMPACTION_RETENTION=1"\nEnvironment="ETCD_QUOTA_BACKEND_BYTES=4294967296"\n',
    );
    const unit = readFileSync(join(sandbox.systemdDir, 'etcd.service'), 'utf8');
    assert.match(unit, /^Type=notify$/m);
    assert.match(unit, /^ExecStart=\/usr\/local\/bin\/etcd$/m);
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^TimeoutStartSec=infinity$/m);
    assert.deepEqual(read(sandbox.systemctlLog).trim().split('\n'), ['daemon-reload', 'enable etcd', 'start --no-block etcd']);
    // Plain HTTP: nothing about TLS is done (no pki dir, no refresh timer, no tls parameter read below).
    assert.equal(existsSync(join(sandbox.dir, 'pki')), false);
    assert.equal(existsSync(join(sandbox.systemdDir, 'elastic-etcd-tls-refresh.timer')), false);

    // It waited for the parameter (two misses first), then asked once whether to restore (no), and signed every
    // SSM call with the role's credentials.
    assert.ok(recorded.ssm.length >= 4, `polled ${recorded.ssm.length} times`);
    assert.deepEqual(
      recorded.ssm.map((call) => call.name.replace(`/elastic-etcd/test/instances/${INSTANCE_ID}/`, '')),
      [...Array.from({ length: recorded.ssm.length - 1 }, () => 'dropin'), 'restore'],
    );
    for (const call of recorded.ssm) {
      assert.equal(call.target, 'AmazonSSM.GetParameter');
      assert.match(
        call.authorization,
        new RegExp(`^AWS4-HMAC-SHA256 Credential=${CREDENTIALS.AccessKeyId}/\\d{8}/${REGION}/ssm/aws4_request, SignedHeaders=`),
      );
      assert.equal(call.securityToken, CREDENTIALS.Token);
    }
    assert.ok(recorded.imds.includes('PUT /latest/api/token'), 'IMDSv2 token requested');
    assert.ok(stderr.includes(`instance ${INSTANCE_ID} in ${REGION} (amazonaws.com)`), stderr);
    // Credentials never appear on a command line (the curl recorder sees every argument).
    assert.doesNotMatch(read(sandbox.curlLog), new RegExp(CREDENTIALS.SecretAccessKey.replace(/[+/]/g, '.')));

    // The real etcd runs with the drop-ins' settings: healthy, and named as the drop-in says.
    const clientUrl = `http://${ip}:${CLIENT_PORT}`;
    assert.deepEqual(await waitForHealth(clientUrl, 20_000), { health: 'true' });
    const list = (await (await fetch(`${clientUrl}/v3/cluster/member/list`, { method: 'POST', body: '{}' })).json()) as {
      members: { name: string; peerURLs: string[] }[];
    };
    assert.deepEqual(
      list.members.map((m) => ({ name: m.name, peerURLs: m.peerURLs })),
      [{ name: INSTANCE_ID, peerURLs: [`http://${ip}:${PEER_PORT}`] }],
    );
  });

  test('gives up after the bounded wait when no drop-in ever appears, and starts nothing', { timeout: 30_000 }, async () => {
    const sandbox = makeSandbox({ ...BASE, parameterPath: '/elastic-etcd/never', dropinWaitSeconds: 1 }, imds.url, ssm.url);
    sandboxes.push(sandbox);
    const { code, stderr } = await runScript(sandbox, 20_000);
    assert.notEqual(code, 0);
    assert.match(stderr, /no drop-in at \/elastic-etcd\/never\/instances\/i-0123456789abcdef0\/dropin after 1s/);
    assert.equal(existsSync(join(sandbox.systemdDir, 'etcd.service.d', '99-elastic-etcd.conf')), false);
    assert.equal(existsSync(sandbox.systemctlLog), false, 'systemctl never called');
  });

  test('refuses a stored value that is not a [Service] drop-in', { timeout: 30_000 }, async () => {
    const sandbox = makeSandbox({ ...BASE, parameterPath: '/elastic-etcd/bad' }, imds.url, ssm.url);
    sandboxes.push(sandbox);
    parameters.set(`/elastic-etcd/bad/instances/${INSTANCE_ID}/dropin`, '[Unit]\nExecStartPre=/bin/evil\n');
    const { code, stderr } = await runScript(sandbox, 20_000);
    assert.notEqual(code, 0);
    assert.match(stderr, /does not start with \[Service\]/);
    assert.equal(existsSync(join(sandbox.systemdDir, 'etcd.service.d', '99-elastic-etcd.conf')), false);
    assert.equal(existsSync(sandbox.systemctlLog), false, 'systemctl never called');
  });

  test(
    'takes the SSM host from the partition DNS suffix in instance metadata (aws-cn), not amazonaws.com',
    { timeout: 60_000 },
    async () => {
      const sandbox = makeSandbox({ ...BASE, parameterPath: '/elastic-etcd/china', dropinWaitSeconds: 1 }, imdsChina.url, ssm.url, {
        env: { AWS_ENDPOINT_URL_SSM: undefined },
      });
      sandboxes.push(sandbox);
      const { code, stderr } = await runScript(sandbox, 45_000);
      assert.notEqual(code, 0, 'no such host here; the point is which host it asked for');
      assert.ok(stderr.includes(`instance ${INSTANCE_ID} in ${REGION} (amazonaws.com.cn)`), stderr);
      const urls = read(sandbox.curlLog).trim().split('\n');
      assert.ok(urls.includes(`https://ssm.${REGION}.amazonaws.com.cn/`), urls.join('\n'));
      assert.ok(!urls.some((u) => /\.amazonaws\.com\//.test(u)), urls.join('\n'));
    },
  );

  describe('installing etcd', { skip: ON_X86_64 ? false : 'the stand-in release is for amd64 (x86_64) machines' }, () => {
    function installSandbox(options: Partial<BootScriptOptions>, sandboxOptions: SandboxOptions = {}): Sandbox {
      const sandbox = makeSandbox(
        { ...BASE, parameterPath: '/elastic-etcd/install', dropinWaitSeconds: 1, ...options },
        imds.url,
        ssm.url,
        { install: true, startEtcd: false, ...sandboxOptions },
      );
      sandboxes.push(sandbox);
      return sandbox;
    }
    const goodRelease = (): BootScriptOptions['release'] => ({
      version: DEFAULT_ETCD_VERSION,
      architecture: 'amd64',
      sha256: sha256(goodTarball),
    });

    test('installs exactly the pinned version after verifying its SHA-256', { timeout: 60_000 }, async () => {
      const sandbox = installSandbox({ release: goodRelease(), install: { method: 'release', baseUrl: `${mirror.url}/good` } });
      parameters.set(`/elastic-etcd/install/instances/${INSTANCE_ID}/dropin`, '[Service]\nEnvironment="ETCD_NAME=x"\n');
      const { code, stderr } = await runScript(sandbox, 45_000);
      assert.equal(code, 0, stderr);
      assert.match(
        stderr,
        new RegExp(`SHA-256 of ${mirror.url}/good/v3\\.5\\.30/${tarballName.replace(/\./g, '\\.')} verified \\(${sha256(goodTarball)}\\)`),
      );
      assert.match(stderr, /etcd 3\.5\.30 installed at /);
      for (const tool of ['etcd', 'etcdctl', 'etcdutl']) assert.ok(existsSync(join(sandbox.binDir, tool)), tool);
      const { stdout } = await execFileAsync(join(sandbox.binDir, 'etcd'), ['--version']);
      assert.match(stdout, /^etcd Version: 3\.5\.30$/m);
      assert.deepEqual(read(sandbox.systemctlLog).trim().split('\n'), ['daemon-reload', 'enable etcd', 'start --no-block etcd']);
    });

    test('a tarball whose SHA-256 is not the pinned one fails clearly and installs nothing', { timeout: 60_000 }, async () => {
      const sandbox = installSandbox({ release: goodRelease(), install: { method: 'release', baseUrl: `${mirror.url}/tampered` } });
      const { code, stderr } = await runScript(sandbox, 45_000);
      assert.notEqual(code, 0);
      assert.match(
        stderr,
        new RegExp(
          `ERROR: SHA-256 mismatch for ${mirror.url}/tampered/\\S+: expected ${sha256(goodTarball)}, got [0-9a-f]{64}; refusing to install it`,
        ),
      );
      assert.equal(existsSync(join(sandbox.binDir, 'etcd')), false);
      assert.equal(existsSync(sandbox.systemctlLog), false, 'systemctl never called');
    });

    test(
      'the pinned checksum of the real release does not match a stand-in: nothing unverified is installed',
      { timeout: 60_000 },
      async () => {
        // BASE carries the published SHA-256 of the real etcd-v3.5.30-linux-amd64.tar.gz.
        const sandbox = installSandbox({ install: { method: 'release', baseUrl: `${mirror.url}/good` } });
        const { code, stderr } = await runScript(sandbox, 45_000);
        assert.notEqual(code, 0);
        assert.match(stderr, new RegExp(`SHA-256 mismatch .*expected ${PINNED_AMD64}`));
        assert.equal(existsSync(join(sandbox.binDir, 'etcd')), false);
      },
    );

    test('a stalled download fails within its bound with a clear error', { timeout: 90_000 }, async () => {
      const sandbox = installSandbox({
        release: goodRelease(),
        downloadTimeoutSeconds: 1,
        install: { method: 'release', baseUrl: `${mirror.url}/stall` },
      });
      // The child is killed at 60 s: an unbounded download would end the test with code null, not a clear error.
      const { code, stderr } = await runScript(sandbox, 60_000);
      assert.equal(code, 1, stderr);
      assert.match(
        stderr,
        /ERROR: download of http:\/\/127\.0\.0\.1:\d+\/stall\/v3\.5\.30\/\S+ failed \(curl exit 28\) within its bound of 4 attempts of at most 1s/,
      );
      assert.equal(existsSync(join(sandbox.binDir, 'etcd')), false);
      assert.equal(existsSync(sandbox.systemctlLog), false, 'systemctl never called');
    });

    test('a binary that reports another version is refused', { timeout: 60_000 }, async () => {
      const other = await fakeReleaseTarball(DEFAULT_ETCD_VERSION, '3.5.29');
      files.set(`/other/v${DEFAULT_ETCD_VERSION}/${tarballName}`, other);
      const sandbox = installSandbox({
        release: { ...goodRelease(), sha256: sha256(other) },
        install: { method: 'release', baseUrl: `${mirror.url}/other` },
      });
      const { code, stderr } = await runScript(sandbox, 45_000);
      assert.notEqual(code, 0);
      assert.match(stderr, /reports version '3\.5\.29', expected 3\.5\.30/);
      assert.equal(existsSync(sandbox.systemctlLog), false, 'systemctl never called');
    });

    test('from S3 (the private-subnet path): a GET signed with the instance role, checksum-verified', { timeout: 60_000 }, async () => {
      const sandbox = installSandbox(
        { release: goodRelease(), install: { method: 's3', bucket: 'artifacts-bucket', key: `etcd/${tarballName}` } },
        { env: { AWS_ENDPOINT_URL_S3: mirror.url } },
      );
      const { code, stderr } = await runScript(sandbox, 45_000);
      assert.equal(code, 0, stderr);
      assert.match(stderr, /etcd 3\.5\.30 installed at /);
      const call = recorded.s3.find((c) => c.url === `/artifacts-bucket/etcd/${tarballName}`);
      assert.ok(call, JSON.stringify(recorded.s3));
      assert.match(
        call.authorization,
        new RegExp(`^AWS4-HMAC-SHA256 Credential=${CREDENTIALS.AccessKeyId}/\\d{8}/${REGION}/s3/aws4_request, SignedHeaders=`),
      );
      assert.equal(call.securityToken, CREDENTIALS.Token);
      assert.equal(call.contentSha, 'UNSIGNED-PAYLOAD');
    });

    test('an S3 object with the wrong content is refused like any other', { timeout: 60_000 }, async () => {
      const sandbox = installSandbox(
        {
          release: { ...goodRelease(), sha256: 'f'.repeat(64) },
          install: { method: 's3', bucket: 'artifacts-bucket', key: `etcd/${tarballName}` },
        },
        { env: { AWS_ENDPOINT_URL_S3: mirror.url } },
      );
      const { code, stderr } = await runScript(sandbox, 45_000);
      assert.notEqual(code, 0);
      assert.match(stderr, /SHA-256 mismatch/);
      assert.equal(existsSync(join(sandbox.binDir, 'etcd')), false);
    });

    test('etcd pinned for another architecture is refused before any download', { timeout: 30_000 }, async () => {
      const sandbox = installSandbox({
        release: { ...goodRelease(), architecture: 'arm64' },
        install: { method: 'release', baseUrl: `${mirror.url}/good` },
      });
      const { code, stderr } = await runScript(sandbox, 20_000);
      assert.notEqual(code, 0);
      assert.match(stderr, /this machine is x86_64 but the stack pinned etcd for arm64/);
      assert.ok(!read(sandbox.curlLog).includes(mirror.url), 'no download attempted');
    });
  });
});

// --- restoring from a snapshot ------------------------------------------------------------------------------------
// A real snapshot of a real etcd (with keys), served by the S3 stand-in; the script must restore it with the
// drop-in's name, cluster and token before etcd starts, or refuse (and start nothing) when it does not verify.

const BACKUP_BUCKET = 'backups-bucket';
const ETCD_34_AND_35: readonly EtcdVersionName[] = ['3.4', '3.5'];
const has35 = existsSync(binaryPaths('3.5').etcdutl ?? '');
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

interface TakenSnapshot {
  readonly bytes: Buffer;
  readonly revision: string;
}

/** Starts a real single-member etcd of `version`, writes `keys`, and takes a snapshot over the JSON gateway. */
async function takeSnapshot(version: EtcdVersionName, keys: Record<string, string>): Promise<TakenSnapshot> {
  const cluster = createCluster();
  try {
    const member = await cluster.startMember({ version, settings: { ETCD_NAME: 'source' } });
    let revision = '';
    for (const [key, value] of Object.entries(keys)) {
      const res = await fetch(`${member.clientURL}/v3/kv/put`, {
        method: 'POST',
        body: JSON.stringify({ key: b64(key), value: b64(value) }),
      });
      revision = ((await res.json()) as { header: { revision: string } }).header.revision;
    }
    const file = join(cluster.dir, 'snapshot.db');
    await saveSnapshot(member.clientURL, file);
    return { bytes: readFileSync(file), revision };
  } finally {
    await cluster.close();
  }
}

async function getKey(clientUrl: string, key: string): Promise<string | undefined> {
  const res = await fetch(`${clientUrl}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: b64(key) }) });
  const body = (await res.json()) as { kvs?: { value: string }[] };
  const value = body.kvs?.[0]?.value;
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

describe('boot script restores from a snapshot', () => {
  let imds: { server: Server; url: string };
  let ssm: { server: Server; url: string };
  let s3: { server: Server; url: string };
  const ips: string[] = [];
  const parameters = new Map<string, string>();
  const files = new Map<string, Buffer>();
  const recorded: Recorded = { imds: [], ssm: [], s3: [] };
  const sandboxes: Sandbox[] = [];
  const snapshots = new Map<EtcdVersionName, TakenSnapshot>();
  const KEYS = { '/app/one': 'first value', '/app/two': 'second value' };

  before(async () => {
    ips.push(...(await allocateAddresses(8)));
    imds = await listen(imdsHandler('127.0.0.1', 'amazonaws.com', recorded));
    ssm = await listen(ssmHandler(parameters, 0, recorded));
    s3 = await listen(downloadHandler(files, recorded, new Set()));
    for (const version of ETCD_34_AND_35) {
      if (version === '3.5' && !has35) continue;
      snapshots.set(version, await takeSnapshot(version, KEYS));
    }
  });

  after(async () => {
    await removeSandboxes(sandboxes);
    await Promise.all([imds, ssm, s3].map((s) => new Promise((resolve) => s.server.close(resolve))));
    releaseAddresses(ips);
  });

  /**
   * A sandbox whose BIN_DIR holds `version`'s tools (etcdutl only for 3.5, as in the releases) and whose stored
   * drop-in is a restore-wave bootstrap with a new token; `restore` (when given) is stored as its restore file.
   */
  function restoreSandbox(
    test: string,
    version: EtcdVersionName,
    restore: object | undefined,
  ): { sandbox: Sandbox; ip: string; dataDir: string; token: string } {
    const ip = ips.shift() ?? '';
    const parameterPath = `/elastic-etcd/${test}`;
    const binaries = binaryPaths(version);
    const sandbox = makeSandbox({ ...BASE, parameterPath, dropinWaitSeconds: 5 }, imds.url, ssm.url, {
      env: { AWS_ENDPOINT_URL_S3: s3.url, ETCD_BINARY: binaries.etcd },
    });
    const binDir = join(sandbox.dir, 'tools');
    mkdirSync(binDir);
    for (const [tool, path] of [
      ['etcd', binaries.etcd],
      ['etcdctl', binaries.etcdctl],
      ['etcdutl', binaries.etcdutl],
    ] as const) {
      if (path !== undefined) symlinkSync(path, join(binDir, tool));
    }
    sandbox.env.ELASTIC_ETCD_BIN_DIR = binDir;
    sandboxes.push(sandbox);
    const dataDir = join(sandbox.dir, 'var-lib', 'etcd');
    const token = `restored-${test}`;
    const peerURL = `http://${ip}:${PEER_PORT}`;
    parameters.set(
      `${parameterPath}/instances/${INSTANCE_ID}/dropin`,
      renderDropin({
        name: INSTANCE_ID,
        dataDir,
        initialAdvertisePeerURLs: [peerURL],
        listenPeerURLs: [peerURL],
        listenClientURLs: [`http://${ip}:${CLIENT_PORT}`],
        advertiseClientURLs: [`http://${ip}:${CLIENT_PORT}`],
        initialClusterState: 'new',
        initialCluster: [{ name: INSTANCE_ID, peerURL }],
        initialClusterToken: token,
      }),
    );
    if (restore !== undefined) parameters.set(`${parameterPath}/instances/${INSTANCE_ID}/restore`, JSON.stringify(restore));
    return { sandbox, ip, dataDir, token };
  }

  function storeSnapshot(key: string, bytes: Buffer, revision: string): object {
    files.set(`/${BACKUP_BUCKET}/${key}`, bytes);
    return { format: 1, bucket: BACKUP_BUCKET, key, sha256: sha256(bytes), size: bytes.length, revision };
  }

  for (const version of ETCD_34_AND_35) {
    const tool = version === '3.4' ? 'etcdctl' : 'etcdutl';
    test(
      `etcd ${version}: downloads, verifies and restores the snapshot with ${tool}, then starts etcd on it`,
      { timeout: 90_000, skip: version === '3.5' && !has35 ? 'etcd 3.5 is not installed (scripts/setup.sh)' : false },
      async () => {
        const snapshot = snapshots.get(version);
        assert.ok(snapshot);
        const key = `main/snapshots/20260101T000000.000Z-${version.replace('.', '')}.db`;
        const restore = storeSnapshot(key, snapshot.bytes, snapshot.revision);
        const { sandbox, ip, dataDir, token } = restoreSandbox(`restore-${version.replace('.', '')}`, version, restore);

        const { code, stderr } = await runScript(sandbox, 60_000);
        assert.equal(code, 0, stderr);
        assert.match(stderr, new RegExp(`snapshot s3://${BACKUP_BUCKET}/${key} verified \\(${snapshot.bytes.length} bytes`));
        assert.ok(stderr.includes(`with ${tool} as ${INSTANCE_ID}, cluster token ${token}`), stderr);
        // The download was signed with the instance role, like every S3 call of the script.
        const call = recorded.s3.find((c) => c.url === `/${BACKUP_BUCKET}/${key}`);
        assert.ok(call, JSON.stringify(recorded.s3));
        assert.match(call.authorization, new RegExp(`^AWS4-HMAC-SHA256 Credential=${CREDENTIALS.AccessKeyId}/\\d{8}/${REGION}/s3/`));
        // Restored beside the data dir and renamed into place: no work dir is left behind.
        assert.ok(existsSync(join(dataDir, 'member', 'snap', 'db')));
        assert.deepEqual(
          readdirSync(join(sandbox.dir, 'var-lib')).filter((name) => name !== 'etcd'),
          [],
        );
        assert.deepEqual(read(sandbox.systemctlLog).trim().split('\n'), ['daemon-reload', 'enable etcd', 'start --no-block etcd']);

        const clientUrl = `http://${ip}:${CLIENT_PORT}`;
        await waitForHealth(clientUrl, 20_000);
        for (const [k, v] of Object.entries(KEYS)) assert.equal(await getKey(clientUrl, k), v, k);
        const list = (await (await fetch(`${clientUrl}/v3/cluster/member/list`, { method: 'POST', body: '{}' })).json()) as {
          members: { name: string; peerURLs: string[] }[];
        };
        assert.deepEqual(
          list.members.map((m) => ({ name: m.name, peerURLs: m.peerURLs })),
          [{ name: INSTANCE_ID, peerURLs: [`http://${ip}:${PEER_PORT}`] }],
        );
      },
    );
  }

  test('a snapshot with one byte flipped is refused with a clear error, and etcd is never started', { timeout: 60_000 }, async () => {
    const snapshot = snapshots.get('3.4');
    assert.ok(snapshot);
    const key = 'main/snapshots/20260101T000000.000Z-flipped.db';
    const restore = storeSnapshot(key, snapshot.bytes, snapshot.revision);
    const flipped = Buffer.from(snapshot.bytes);
    flipped[Math.floor(flipped.length / 2)] = (flipped[Math.floor(flipped.length / 2)] ?? 0) ^ 0xff;
    files.set(`/${BACKUP_BUCKET}/${key}`, flipped);
    const { sandbox, dataDir } = restoreSandbox('flipped', '3.4', restore);

    const { code, stderr } = await runScript(sandbox, 45_000);
    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      new RegExp(
        `ERROR: SHA-256 mismatch for snapshot s3://${BACKUP_BUCKET}/${key}: expected ${sha256(snapshot.bytes)}, got ${sha256(flipped)}; refusing to restore it, not starting etcd`,
      ),
    );
    assert.equal(existsSync(sandbox.systemctlLog), false, 'systemctl never called');
    assert.equal(existsSync(join(dataDir, 'member')), false);
  });

  test('a snapshot of another size is refused before its checksum is even computed', { timeout: 60_000 }, async () => {
    const snapshot = snapshots.get('3.4');
    assert.ok(snapshot);
    const key = 'main/snapshots/20260101T000000.000Z-short.db';
    const restore = storeSnapshot(key, snapshot.bytes, snapshot.revision);
    files.set(`/${BACKUP_BUCKET}/${key}`, snapshot.bytes.subarray(0, snapshot.bytes.length - 1));
    const { sandbox } = restoreSandbox('short', '3.4', restore);
    const { code, stderr } = await runScript(sandbox, 45_000);
    assert.equal(code, 1, stderr);
    assert.match(stderr, new RegExp(`has ${snapshot.bytes.length - 1} bytes, expected ${snapshot.bytes.length}; refusing to restore it`));
    assert.equal(existsSync(sandbox.systemctlLog), false, 'systemctl never called');
  });

  test('a missing snapshot object is a clear error, and etcd is never started', { timeout: 60_000 }, async () => {
    const key = 'main/snapshots/20260101T000000.000Z-gone.db';
    const { sandbox, dataDir } = restoreSandbox('missing', '3.4', {
      format: 1,
      bucket: BACKUP_BUCKET,
      key,
      sha256: 'a'.repeat(64),
      size: 4096,
      revision: '7',
    });
    const { code, stderr } = await runScript(sandbox, 45_000);
    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      new RegExp(`ERROR: snapshot s3://${BACKUP_BUCKET}/${key} could not be downloaded \\(curl exit 22\\); not starting etcd`),
    );
    assert.equal(existsSync(sandbox.systemctlLog), false, 'systemctl never called');
    assert.equal(existsSync(join(dataDir, 'member')), false);
  });

  test('a malformed restore parameter is refused and starts nothing', { timeout: 60_000 }, async () => {
    const { sandbox } = restoreSandbox('malformed', '3.4', {
      format: 1,
      bucket: BACKUP_BUCKET,
      key: "k'$(id)",
      sha256: 'x',
      size: 1,
      revision: '1',
    });
    const { code, stderr } = await runScript(sandbox, 45_000);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /the restore parameter of i-0123456789abcdef0 is malformed: field key is missing or malformed/);
    assert.equal(existsSync(sandbox.systemctlLog), false, 'systemctl never called');
  });

  test('an existing member/ is never restored over: no download, etcd starts on the data it has', { timeout: 90_000 }, async () => {
    const snapshot = snapshots.get('3.4');
    assert.ok(snapshot);
    // The restore names an object that does not exist: any download attempt would fail the boot.
    const key = 'main/snapshots/20260101T000000.000Z-expired.db';
    const { sandbox, ip, dataDir, token } = restoreSandbox('reboot', '3.4', {
      format: 1,
      bucket: BACKUP_BUCKET,
      key,
      sha256: sha256(snapshot.bytes),
      size: snapshot.bytes.length,
      revision: snapshot.revision,
    });
    // What a first boot after a restore left: the member's data, under the drop-in's name and token.
    const file = join(sandbox.dir, 'earlier.db');
    writeFileSync(file, snapshot.bytes);
    await restoreSnapshot('3.4.0', file, { name: INSTANCE_ID, peerURL: `http://${ip}:${PEER_PORT}`, dataDir, token });

    const { code, stderr } = await runScript(sandbox, 45_000);
    assert.equal(code, 0, stderr);
    assert.ok(stderr.includes(`restore of s3://${BACKUP_BUCKET}/${key} skipped: ${dataDir}/member already exists`), stderr);
    assert.ok(!recorded.s3.some((c) => c.url.includes('expired')), 'nothing downloaded');
    assert.deepEqual(read(sandbox.systemctlLog).trim().split('\n'), ['daemon-reload', 'enable etcd', 'start --no-block etcd']);
    const clientUrl = `http://${ip}:${CLIENT_PORT}`;
    await waitForHealth(clientUrl, 20_000);
    assert.equal(await getKey(clientUrl, '/app/one'), KEYS['/app/one']);
  });

  test('no restore parameter: etcd starts as usual, nothing is downloaded', { timeout: 60_000 }, async () => {
    const { sandbox, dataDir } = restoreSandbox('plain', '3.4', undefined);
    sandbox.env.START_ETCD = '0';
    const before = recorded.s3.length;
    const { code, stderr } = await runScript(sandbox, 45_000);
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /restor/);
    assert.equal(recorded.s3.length, before);
    assert.equal(existsSync(dataDir), false);
    assert.ok(recorded.ssm.some((c) => c.name === `/elastic-etcd/plain/instances/${INSTANCE_ID}/restore`));
  });
});

// --- TLS on the instance -------------------------------------------------------------------------------------------
// The drop-in asks for TLS (ETCD_CERT_FILE): the script must write the member's files from instances/<id>/tls
// before etcd starts (a real etcd then serves mutual TLS with them), refuse to start etcd when that parameter is
// missing or malformed, and install the hourly refresh that replaces only what changed, without a restart.

interface TlsParameter {
  format: number;
  caCertificate: string;
  certificate: string;
  privateKey: string;
  notAfter: string;
}

/** The serial number of the certificate a new TLS connection to `ip:port` is served. */
function servedSerial(ip: string, port: number, client: TlsClientIdentity): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: ip, port, ca: client.ca, cert: client.cert, key: client.key, servername: 'localhost' }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(serial);
    });
    socket.on('error', reject);
  });
}

describe('boot script with TLS', () => {
  let imds: { server: Server; url: string };
  let ssm: { server: Server; url: string };
  const ips: string[] = [];
  const parameters = new Map<string, string>();
  const recorded: Recorded = { imds: [], ssm: [], s3: [] };
  const sandboxes: Sandbox[] = [];
  let pki: TestPki;
  let pkiDir = '';
  let client: TlsClientIdentity;
  const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());

  before(async () => {
    ips.push(...(await allocateAddresses(2)));
    imds = await listen(imdsHandler('127.0.0.1', 'amazonaws.com', recorded));
    ssm = await listen(ssmHandler(parameters, 0, recorded));
    pkiDir = mkdtempSync(join(tmpdir(), 'elastic-etcd-boot-ca-'));
    pki = await TestPki.create(pkiDir, 'boot-script');
    client = await pki.issueClient('boot-test');
  });

  after(async () => {
    await removeSandboxes(sandboxes);
    rmSync(pkiDir, { recursive: true, force: true });
    await Promise.all([imds, ssm].map((s) => new Promise((resolve) => s.server.close(resolve))));
    releaseAddresses(ips);
  });

  /** A member certificate for `ip` as the Lambda stores it in instances/<id>/tls. */
  async function tlsParameter(ip: string): Promise<TlsParameter> {
    const files = await pki.issueMember(INSTANCE_ID, ip);
    const certificate = readFileSync(files.certFile, 'utf8');
    return {
      format: 1,
      caCertificate: pki.ca.certificate,
      certificate,
      privateKey: readFileSync(files.keyFile, 'utf8'),
      notAfter: new Date(new X509Certificate(certificate).validTo).toISOString(),
    };
  }

  /**
   * A sandbox whose stored drop-in is an https member with etcd's TLS settings pointing into the sandbox's pki
   * dir (as the Lambda's point into /etc/etcd/pki), and whose stored tls parameter is `tls` (when given).
   */
  function tlsSandbox(test: string, ip: string, tls: TlsParameter | string | undefined, certFile?: string) {
    const parameterPath = `/elastic-etcd/${test}`;
    const sandbox = makeSandbox({ ...BASE, parameterPath, dropinWaitSeconds: 5 }, imds.url, ssm.url);
    sandboxes.push(sandbox);
    const binDir = join(sandbox.dir, 'usr-local-bin');
    mkdirSync(binDir);
    sandbox.env.ELASTIC_ETCD_BIN_DIR = binDir;
    const dir = sandbox.env.ELASTIC_ETCD_PKI_DIR ?? '';
    const peerURL = `https://${ip}:${PEER_PORT}`;
    // Exactly what the Lambda stores: the core renderer's TLS settings, with the sandbox's pki dir for /etc/etcd/pki.
    const dropin = renderDropin({
      name: INSTANCE_ID,
      dataDir: join(sandbox.dir, 'data'),
      initialAdvertisePeerURLs: [peerURL],
      listenPeerURLs: [peerURL],
      listenClientURLs: [`https://${ip}:${CLIENT_PORT}`],
      advertiseClientURLs: [`https://${ip}:${CLIENT_PORT}`],
      initialClusterState: 'new',
      initialCluster: [{ name: INSTANCE_ID, peerURL }],
      initialClusterToken: `tls-${test}`,
      tls: { ...memberTlsPaths(dir), ...(certFile !== undefined && { certFile }) },
    });
    parameters.set(`${parameterPath}/instances/${INSTANCE_ID}/dropin`, dropin);
    if (tls !== undefined)
      parameters.set(`${parameterPath}/instances/${INSTANCE_ID}/tls`, typeof tls === 'string' ? tls : JSON.stringify(tls));
    return { sandbox, binDir, dir, parameterPath };
  }

  const mode = (path: string): number => statSync(path).mode & 0o777;

  test(
    'writes ca.crt, member.crt and member.key before etcd starts; etcd serves mutual TLS with them; renewals replace only what changed, without a restart',
    { timeout: 120_000 },
    async () => {
      const ip = ips[0] ?? '';
      const tls = await tlsParameter(ip);
      const { sandbox, binDir, dir, parameterPath } = tlsSandbox('tls', ip, tls);
      const { code, stderr } = await runScript(sandbox, 60_000);
      assert.equal(code, 0, stderr);

      // The files: exactly the parameter's PEMs, in a 0700 dir owned by the etcd user, the key 0600.
      assert.equal(readFileSync(join(dir, 'ca.crt'), 'utf8'), tls.caCertificate);
      assert.equal(readFileSync(join(dir, 'member.crt'), 'utf8'), tls.certificate);
      assert.equal(readFileSync(join(dir, 'member.key'), 'utf8'), tls.privateKey);
      assert.equal(mode(dir), 0o700);
      assert.equal(mode(join(dir, 'member.key')), 0o600);
      assert.equal(mode(join(dir, 'member.crt')), 0o644);
      for (const path of [dir, ...['ca.crt', 'member.crt', 'member.key'].map((f) => join(dir, f))])
        assert.equal(statSync(path).uid, nobody, path);
      assert.deepEqual(readdirSync(dir).sort(), ['ca.crt', 'member.crt', 'member.key']);
      assert.match(stderr, /TLS files replaced in \S+: ca\.crt member\.key member\.crt/);

      // Read after the drop-in, with decryption (a SecureString), before the restore check; etcd started after.
      const calls = recorded.ssm
        .filter((c) => c.name.startsWith(`${parameterPath}/`))
        .map((c) => c.name.replace(`${parameterPath}/instances/${INSTANCE_ID}/`, ''));
      assert.deepEqual(calls, ['dropin', 'tls', 'restore']);
      assert.ok(recorded.ssm.every((c) => c.withDecryption === true));
      // The unit runs etcd as the user that owns the files, and the hourly refresh is installed and enabled.
      assert.match(readFileSync(join(sandbox.systemdDir, 'etcd.service'), 'utf8'), /^User=nobody$/m);
      assert.deepEqual(read(sandbox.systemctlLog).trim().split('\n'), [
        'daemon-reload',
        'enable etcd',
        'enable --now elastic-etcd-tls-refresh.timer',
        'start --no-block etcd',
      ]);
      const timer = readFileSync(join(sandbox.systemdDir, 'elastic-etcd-tls-refresh.timer'), 'utf8');
      assert.match(timer, /^OnCalendar=hourly$/m);
      assert.match(timer, /^RandomizedDelaySec=\S+$/m);
      assert.match(timer, /^WantedBy=timers\.target$/m);
      const refresh = join(binDir, 'elastic-etcd-tls-refresh');
      assert.match(
        readFileSync(join(sandbox.systemdDir, 'elastic-etcd-tls-refresh.service'), 'utf8'),
        new RegExp(`^ExecStart=${refresh} tls-refresh$`, 'm'),
      );
      assert.equal(readFileSync(refresh, 'utf8'), readFileSync(sandbox.scriptPath, 'utf8'));

      // The real etcd serves https with these files and requires a client certificate from the cluster's CA.
      const clientUrl = `https://${ip}:${CLIENT_PORT}`;
      const deadline = Date.now() + 20_000;
      let health: unknown;
      while (Date.now() < deadline && (health as { health?: string } | undefined)?.health !== 'true') {
        health = await tryHttpsJson(`${clientUrl}/health`, client);
        await new Promise((resolve) => setTimeout(resolve, 100)); // poll interval, bounded by the deadline
      }
      assert.deepEqual(health, { health: 'true' });
      const anonymous = await httpsJson(`${clientUrl}/health`, { ca: client.ca });
      assert.ok(!anonymous.ok || anonymous.status >= 400, 'a client without a certificate is refused');
      const pid = read(sandbox.etcdPidFile).trim();
      assert.equal(await servedSerial(ip, CLIENT_PORT, client), new X509Certificate(tls.certificate).serialNumber);

      // The timer's run with nothing changed: every file stays as it is (same inode, same time).
      const before = new Map(['ca.crt', 'member.crt', 'member.key'].map((f) => [f, statSync(join(dir, f))]));
      const unchanged = await runScript(sandbox, 30_000, [refresh, 'tls-refresh']);
      assert.equal(unchanged.code, 0, unchanged.stderr);
      assert.match(unchanged.stderr, /TLS files replaced in \S+: none$/m);
      for (const [file, stat] of before) {
        assert.equal(statSync(join(dir, file)).ino, stat.ino, file);
        assert.equal(statSync(join(dir, file)).mtimeMs, stat.mtimeMs, file);
      }

      // A renewal: a new member certificate and key under the same CA. The run replaces those two (renamed into
      // place: new inodes, no staged file left), leaves ca.crt alone, and never touches etcd.
      const renewed = await tlsParameter(ip);
      parameters.set(`${parameterPath}/instances/${INSTANCE_ID}/tls`, JSON.stringify(renewed));
      const run = await runScript(sandbox, 30_000, [refresh, 'tls-refresh']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /TLS files replaced in \S+: member\.key member\.crt$/m);
      assert.equal(readFileSync(join(dir, 'member.crt'), 'utf8'), renewed.certificate);
      assert.equal(readFileSync(join(dir, 'member.key'), 'utf8'), renewed.privateKey);
      assert.notEqual(statSync(join(dir, 'member.crt')).ino, before.get('member.crt')?.ino);
      assert.equal(statSync(join(dir, 'ca.crt')).ino, before.get('ca.crt')?.ino);
      assert.equal(statSync(join(dir, 'ca.crt')).mtimeMs, before.get('ca.crt')?.mtimeMs);
      assert.equal(mode(join(dir, 'member.key')), 0o600);
      assert.equal(statSync(join(dir, 'member.key')).uid, nobody);
      assert.deepEqual(readdirSync(dir).sort(), ['ca.crt', 'member.crt', 'member.key']);
      assert.equal(read(sandbox.systemctlLog).trim().split('\n').length, 4, 'no systemctl call: etcd is not restarted');
      assert.equal(read(sandbox.etcdPidFile).trim(), pid);
      // The same etcd serves the renewed certificate on a new connection.
      assert.equal(await servedSerial(ip, CLIENT_PORT, client), new X509Certificate(renewed.certificate).serialNumber);

      // A malformed parameter at the next run: a clear error, and the files stay as they are.
      parameters.set(`${parameterPath}/instances/${INSTANCE_ID}/tls`, JSON.stringify({ ...renewed, privateKey: renewed.certificate }));
      const bad = await runScript(sandbox, 30_000, [refresh, 'tls-refresh']);
      assert.equal(bad.code, 1);
      assert.match(
        bad.stderr,
        /instances\/i-0123456789abcdef0\/tls is malformed: .*privateKey is not a PEM PRIVATE KEY; the files are left as they are/,
      );
      assert.equal(readFileSync(join(dir, 'member.key'), 'utf8'), renewed.privateKey);
      assert.deepEqual(readdirSync(dir).sort(), ['ca.crt', 'member.crt', 'member.key']);
    },
  );

  test(
    'a missing tls parameter while the drop-in asks for TLS: a clear error, and etcd is never started',
    { timeout: 60_000 },
    async () => {
      const { sandbox, dir } = tlsSandbox('tls-missing', ips[1] ?? '', undefined);
      const { code, stderr } = await runScript(sandbox, 45_000);
      assert.equal(code, 1, stderr);
      assert.match(
        stderr,
        /ERROR: \/elastic-etcd\/tls-missing\/instances\/i-0123456789abcdef0\/tls does not exist; not starting etcd without TLS/,
      );
      assert.equal(existsSync(sandbox.systemctlLog), false, 'systemctl never called');
      assert.equal(existsSync(dir), false);
    },
  );

  test(
    'a malformed tls parameter: a clear error naming what is wrong, nothing written, etcd never started',
    { timeout: 90_000 },
    async () => {
      const good = await tlsParameter(ips[1] ?? '');
      const cases: [string, TlsParameter | string, RegExp][] = [
        ['not-json', 'certificate: yes', /JSONDecodeError/],
        ['format', { ...good, format: 2 }, /format is not 1/],
        ['no-key', JSON.stringify({ ...good, privateKey: undefined }), /KeyError: 'privateKey'/],
        ['key-is-cert', { ...good, privateKey: good.certificate }, /privateKey is not a PEM PRIVATE KEY/],
        ['cert-not-pem', { ...good, certificate: 'MIIB...' }, /certificate is not a PEM CERTIFICATE/],
      ];
      for (const [name, tls, reason] of cases) {
        const { sandbox, dir } = tlsSandbox(`tls-${name}`, ips[1] ?? '', tls);
        const { code, stderr } = await runScript(sandbox, 45_000);
        assert.equal(code, 1, `${name}: ${stderr}`);
        assert.match(stderr, new RegExp(`ERROR: /elastic-etcd/tls-${name}/instances/i-0123456789abcdef0/tls is malformed: `), name);
        assert.match(stderr, reason, name);
        assert.match(stderr, /; not starting etcd without TLS$/m, name);
        assert.equal(existsSync(sandbox.systemctlLog), false, `${name}: systemctl never called`);
        assert.deepEqual(readdirSync(dir), [], `${name}: nothing written or staged`);
        assert.equal(existsSync(join(sandbox.systemdDir, 'elastic-etcd-tls-refresh.timer')), false, name);
      }
    },
  );

  test(
    'a drop-in whose certificate is not where the script writes it is refused before anything is fetched',
    { timeout: 60_000 },
    async () => {
      const { sandbox, parameterPath } = tlsSandbox('tls-elsewhere', ips[1] ?? '', await tlsParameter(ips[1] ?? ''), '/somewhere/else.crt');
      const { code, stderr } = await runScript(sandbox, 45_000);
      assert.equal(code, 1, stderr);
      assert.match(stderr, /ERROR: ETCD_CERT_FILE is not \S+\/pki\/member\.crt; not starting etcd/);
      assert.ok(!recorded.ssm.some((c) => c.name === `${parameterPath}/instances/${INSTANCE_ID}/tls`));
      assert.equal(existsSync(sandbox.systemctlLog), false, 'systemctl never called');
    },
  );
});

async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  process.kill(pid, 'SIGKILL');
}
