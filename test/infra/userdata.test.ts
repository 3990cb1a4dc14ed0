// The instance boot script: shellcheck-clean, renders safely, and really boots etcd from the drop-in it fetched.
// The run test serves IMDSv2 and SSM (JSON 1.1 GetParameter) from tiny loopback servers, replaces systemctl with
// a double that starts the real /usr/bin/etcd from the drop-in the script wrote, and waits for etcd's /health.
import { renderDropin } from '../../src/core/render.js';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { BOOT_SCRIPT_PATH, InvalidBootScriptOptionError, renderBootScript, type BootScriptOptions } from '../../infra/userdata.js';
import { allocateAddresses, CLIENT_PORT, PEER_PORT, releaseAddresses } from '../harness/addresses.js';

const execFileAsync = promisify(execFile);

const BASE: BootScriptOptions = {
  parameterPath: '/elastic-etcd/test',
  etcdVersion: '3.5.17',
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
        { ...BASE, install: { method: 'commands', commands: ['dnf install -y etcd', 'ln -sf /usr/bin/etcd /usr/local/bin/etcd'] } },
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
  test('fills every placeholder', () => {
    const script = renderBootScript({ ...BASE, install: { method: 'release', baseUrl: 'https://mirror.example/etcd/' } });
    assert.match(script, /^readonly PARAMETER_PATH='\/elastic-etcd\/test'$/m);
    assert.match(script, /^readonly ETCD_VERSION='3\.5\.17'$/m);
    assert.match(script, /^readonly INSTALL_METHOD='release'$/m);
    assert.match(script, /^readonly RELEASE_BASE_URL='https:\/\/mirror\.example\/etcd'$/m);
    assert.match(script, /^readonly DROPIN_WAIT_SECONDS='30'$/m);
    assert.doesNotMatch(script, /'@[A-Z_]+@'/);
  });

  test('refuses values that could break out of the script', () => {
    const bad: BootScriptOptions[] = [
      { ...BASE, parameterPath: "/x'; rm -rf / #" },
      { ...BASE, parameterPath: 'relative/path' },
      { ...BASE, parameterPath: '/trailing/' },
      { ...BASE, etcdVersion: '3.5.17; reboot' },
      { ...BASE, etcdVersion: 'latest' },
      { ...BASE, dropinWaitSeconds: 0 },
      { ...BASE, dropinWaitSeconds: 1.5 },
      { ...BASE, install: { method: 'release', baseUrl: "https://x/'$(id)'" } },
      { ...BASE, install: { method: 'commands', commands: [] } },
      { ...BASE, install: { method: 'commands', commands: ["echo '@PARAMETER_PATH@'"] } },
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

interface Recorded {
  readonly imds: string[];
  readonly ssm: { name: string; authorization: string; securityToken: string; target: string }[];
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += (chunk as Buffer).toString();
  return body;
}

/** IMDSv2: a PUT for a token, then GETs that must carry it (IMDSv1-style GETs are refused, as with HttpTokens=required). */
function imdsHandler(localIp: string, recorded: Recorded) {
  const paths: Record<string, string> = {
    '/latest/meta-data/instance-id': INSTANCE_ID,
    '/latest/meta-data/local-ipv4': localIp,
    '/latest/meta-data/placement/region': REGION,
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
      const name = (JSON.parse(body) as { Name?: string }).Name ?? '';
      recorded.ssm.push({
        name,
        target,
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

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

// The systemctl double: logs its arguments; `start etcd` reads the drop-in the script wrote and starts the real
// etcd with exactly its Environment= values, detached, recording the PID for the test to stop it.
const SYSTEMCTL_DOUBLE = `#!/usr/bin/env bash
set -euo pipefail
echo "$*" >>"$SYSTEMCTL_LOG"
if [[ "$*" == "start etcd" ]]; then
  dropin="$ELASTIC_ETCD_SYSTEMD_DIR/etcd.service.d/99-elastic-etcd.conf"
  grep -q '^ExecStart=/usr/local/bin/etcd$' "$ELASTIC_ETCD_SYSTEMD_DIR/etcd.service"
  env_args=()
  while IFS= read -r line; do
    env_args+=("$line")
  done < <(sed -n 's/^Environment="\\(.*\\)"$/\\1/p' "$dropin")
  env -i PATH=/usr/bin:/bin "\${env_args[@]}" setsid /usr/bin/etcd >"$ETCD_LOG" 2>&1 </dev/null &
  echo $! >"$ETCD_PID_FILE"
fi
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
  readonly scriptPath: string;
  readonly env: NodeJS.ProcessEnv;
  readonly etcdPidFile: string;
  readonly etcdLog: string;
  readonly systemctlLog: string;
}

function makeSandbox(options: BootScriptOptions, imdsUrl: string, ssmUrl: string): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'elastic-etcd-boot-'));
  const bin = join(dir, 'bin');
  const systemdDir = join(dir, 'systemd');
  mkdirSync(bin);
  mkdirSync(systemdDir);
  writeFileSync(join(bin, 'systemctl'), SYSTEMCTL_DOUBLE);
  chmodSync(join(bin, 'systemctl'), 0o755);
  const scriptPath = join(dir, 'boot-etcd.sh');
  writeFileSync(scriptPath, renderBootScript(options));
  const sandbox = {
    dir,
    systemdDir,
    scriptPath,
    etcdPidFile: join(dir, 'etcd.pid'),
    etcdLog: join(dir, 'etcd.log'),
    systemctlLog: join(dir, 'systemctl.log'),
  };
  return {
    ...sandbox,
    env: {
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: dir,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: imdsUrl,
      AWS_ENDPOINT_URL_SSM: ssmUrl,
      ELASTIC_ETCD_SYSTEMD_DIR: systemdDir,
      ELASTIC_ETCD_SKIP_INSTALL: '1',
      ELASTIC_ETCD_POLL_INTERVAL: '0.2',
      SYSTEMCTL_LOG: sandbox.systemctlLog,
      ETCD_LOG: sandbox.etcdLog,
      ETCD_PID_FILE: sandbox.etcdPidFile,
    },
  };
}

function runScript(sandbox: Sandbox, timeoutMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [sandbox.scriptPath], { env: sandbox.env, stdio: ['ignore', 'ignore', 'pipe'], timeout: timeoutMs });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('boot script against IMDS and SSM stand-ins', () => {
  let ip = '';
  let imds: { server: Server; url: string };
  let ssm: { server: Server; url: string };
  const parameters = new Map<string, string>();
  const recorded: Recorded = { imds: [], ssm: [] };
  const sandboxes: Sandbox[] = [];

  before(async () => {
    [ip = ''] = await allocateAddresses(1);
    imds = await listen(imdsHandler(ip, recorded));
    ssm = await listen(ssmHandler(parameters, 2, recorded));
  });

  after(async () => {
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
    await Promise.all([imds, ssm].map((s) => new Promise((resolve) => s.server.close(resolve))));
    releaseAddresses([ip]);
  });

  test('writes the drop-in the Lambda stored and starts etcd with it', { timeout: 90_000 }, async () => {
    const sandbox = makeSandbox(BASE, imds.url, ssm.url);
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

    // The drop-in on disk is byte for byte what SSM served, and the unit takes its config from it.
    assert.equal(readFileSync(join(sandbox.systemdDir, 'etcd.service.d', '99-elastic-etcd.conf'), 'utf8'), dropin);
    const unit = readFileSync(join(sandbox.systemdDir, 'etcd.service'), 'utf8');
    assert.match(unit, /^Type=notify$/m);
    assert.match(unit, /^ExecStart=\/usr\/local\/bin\/etcd$/m);
    assert.match(unit, /^Restart=on-failure$/m);
    assert.deepEqual(readFileSync(sandbox.systemctlLog, 'utf8').trim().split('\n'), ['daemon-reload', 'enable etcd', 'start etcd']);

    // It waited for the parameter (two misses first), and signed every SSM call with the role's credentials.
    assert.ok(recorded.ssm.length >= 3, `polled ${recorded.ssm.length} times`);
    for (const call of recorded.ssm) {
      assert.equal(call.name, `/elastic-etcd/test/instances/${INSTANCE_ID}/dropin`);
      assert.equal(call.target, 'AmazonSSM.GetParameter');
      assert.match(call.authorization, new RegExp(`^AWS4-HMAC-SHA256 Credential=${CREDENTIALS.AccessKeyId}/\\d{8}/${REGION}/ssm/aws4_request, SignedHeaders=`));
      assert.equal(call.securityToken, CREDENTIALS.Token);
    }
    assert.ok(recorded.imds.includes('PUT /latest/api/token'), 'IMDSv2 token requested');
    assert.ok(stderr.includes(`instance ${INSTANCE_ID} in ${REGION}`), stderr);

    // The real etcd runs with the drop-in's settings: healthy, and named as the drop-in says.
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
