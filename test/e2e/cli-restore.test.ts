// `elastic-etcd restore` as a process against the simulated cloud (SSM and S3 reached by the real SDK clients
// through AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL_S3): it records a restore request for the newest verified
// snapshot of both tiers or for a named one, refuses what could not be restored (and then records nothing), and
// withdraws a pending request with --cancel.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { parseRestoreValue, restoreRequestSchema } from '../../src/adapters/aws/restore-parameters.js';
import { startSimulatedCloud, type SimulatedCloud } from '../sim/index.js';
import { runCli, type CliRun } from './cli-support.js';

const BUCKET = 'etcd-backups';
const REQUEST = '/elastic-etcd/main/restore-request';

function manifestOf(body: Buffer, takenAt: string, revision: string): string {
  return JSON.stringify({
    format: 1,
    sha256: createHash('sha256').update(body).digest('hex'),
    size: body.length,
    revision,
    clusterId: 'cdf818194e3a8c32',
    memberId: '8e9e05c52164694d',
    memberCount: 3,
    etcdVersion: '3.5.30',
    takenAt,
  });
}

describe('elastic-etcd restore', () => {
  let cloud: SimulatedCloud;
  const older = 'main/snapshots/20260101T000000.000Z-aaaa.db';
  const daily = 'main/daily/20260102T000000.000Z-bbbb.db';
  const unfinished = 'main/snapshots/20260103T000000.000Z-cccc.db';
  const damaged = 'main/snapshots/20260101T120000.000Z-dddd.db';

  before(async () => {
    cloud = await startSimulatedCloud();
    cloud.s3.createBucket(BUCKET);
    const put = (key: string, body: Buffer, takenAt?: string, revision = '10'): void => {
      cloud.s3.putRaw(BUCKET, key, body);
      if (takenAt !== undefined) cloud.s3.putRaw(BUCKET, `${key}.manifest.json`, Buffer.from(manifestOf(body, takenAt, revision)));
    };
    put(older, Buffer.alloc(4096, 1), '2026-01-01T00:00:00.000Z', '10');
    put(daily, Buffer.alloc(4096, 2), '2026-01-02T00:00:00.000Z', '42');
    put(unfinished, Buffer.alloc(4096, 3)); // no manifest: an upload that never completed its manifest
    put(damaged, Buffer.alloc(4096, 4), '2026-01-01T12:00:00.000Z');
    cloud.s3.putRaw(BUCKET, damaged, Buffer.alloc(100, 4)); // the object no longer matches its manifest
  });
  after(async () => {
    await cloud?.close();
  });
  beforeEach(() => {
    if (cloud.parameters.value(REQUEST) !== undefined) cloud.parameters.delete(REQUEST);
  });

  // The SDK's NodeVersionSupportWarning on Node.js 20 (see the environment notes) is Node's, not the CLI's output.
  const restore = async (...args: string[]): Promise<CliRun> => {
    const run = await runCli(['restore', '--cluster-name=main', ...args], { env: cloud.env, timeoutMs: 60_000 });
    return { ...run, stderr: run.stderr.replace(/^\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*?--trace-warnings[^\n]*\n/m, '') };
  };
  const recorded = () => {
    const raw = cloud.parameters.value(REQUEST);
    return raw === undefined ? undefined : parseRestoreValue(restoreRequestSchema, raw, REQUEST);
  };

  test('--from latest records the newest verified snapshot of both tiers, by its key', async () => {
    const run = await restore(`--bucket=${BUCKET}`, '--from=latest');
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.deepEqual(
      { key: out.key, revision: out.revision, takenAt: out.takenAt, clusterId: out.clusterId, requested: out.requested },
      { key: daily, revision: '42', takenAt: '2026-01-02T00:00:00.000Z', clusterId: 'cdf818194e3a8c32', requested: 'latest' },
    );
    const request = recorded();
    assert.ok(request);
    assert.equal(request.from, daily);
    assert.match(request.requestedBy ?? '', /^elastic-etcd restore/);
    assert.equal(out.requestedAt, request.requestedAt);
    assert.match(run.stderr, /scale the Auto Scaling group to 0/);
    assert.match(run.stderr, /Writes made after the snapshot are lost/);
  });

  test('--from KEY records that snapshot; a second request is refused without --replace, accepted with it', async () => {
    const first = await restore(`--bucket=${BUCKET}`, `--from=${older}`);
    assert.equal(first.code, 0, first.stderr);
    assert.equal((JSON.parse(first.stdout) as { key: string }).key, older);
    assert.equal(recorded()?.from, older);

    const second = await restore(`--bucket=${BUCKET}`, '--from=latest');
    assert.equal(second.code, 1, second.stderr);
    assert.equal(second.stdout, '');
    assert.match(
      second.stderr,
      /^elastic-etcd: restore: a restore request is already pending at \/elastic-etcd\/main\/restore-request \(from main\/snapshots\/20260101T000000\.000Z-aaaa\.db/,
    );
    assert.match(second.stderr, /pass --replace to replace it/);
    assert.equal(second.stderr.trim().split('\n').length, 1, 'one line');
    assert.equal(recorded()?.from, older, 'unchanged');

    const replaced = await restore(`--bucket=${BUCKET}`, '--from=latest', '--replace');
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.equal(recorded()?.from, daily);
  });

  test('--cancel withdraws the pending request; a second --cancel finds none', async () => {
    assert.equal((await restore(`--bucket=${BUCKET}`, `--from=${older}`)).code, 0);
    const cancel = await restore('--cancel');
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.deepEqual(JSON.parse(cancel.stdout), { parameter: REQUEST, cancelled: true });
    assert.equal(recorded(), undefined);
    const again = await restore('--cancel');
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), { parameter: REQUEST, cancelled: false });
  });

  test('refused, nothing recorded: a missing key, a key without manifest, a damaged object (exit 1)', async () => {
    const cases: [string, RegExp][] = [
      ['main/snapshots/20250101T000000.000Z-gone.db', /has no manifest: it is not a complete snapshot/],
      [unfinished, /has no manifest: it is not a complete snapshot/],
      [damaged, /has 100 bytes, its manifest says 4096: it is damaged/],
    ];
    for (const [key, message] of cases) {
      const run = await restore(`--bucket=${BUCKET}`, `--from=${key}`);
      assert.equal(run.code, 1, `${key}: ${run.stderr}`);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, message);
      assert.match(run.stderr, /nothing was recorded\n$/);
      assert.equal(recorded(), undefined, key);
    }
    const noBucket = await restore('--bucket=no-such-bucket', '--from=latest');
    assert.equal(noBucket.code, 1, noBucket.stderr);
    assert.match(noBucket.stderr, /NoSuchBucket|does not exist/);
    assert.equal(recorded(), undefined);
  });

  test('usage errors exit 2 with one line and record nothing', async () => {
    const cases: [string[], RegExp][] = [
      [[`--bucket=${BUCKET}`, '--from=latest', '--force'], /restore: Unknown option '--force'/],
      [['--from=latest'], /restore needs --bucket/],
      [[`--bucket=${BUCKET}`], /restore needs --from latest or --from S3-KEY/],
      [[`--bucket=${BUCKET}`, '--from=other/snapshots/x.db'], /is not a snapshot of this cluster/],
      [['--bucket=Not_A_Bucket', '--from=latest'], /is not an S3 bucket name/],
      [['--cancel', '--from=latest'], /--cancel takes neither --from nor --replace/],
      [[`--bucket=${BUCKET}`, '--from=latest', '--parameter-prefix=no-slash'], /invalid parameter-prefix/],
    ];
    for (const [args, message] of cases) {
      const run = await restore(...args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, message);
      assert.equal(run.stderr.trim().split('\n').length, 1);
    }
    assert.equal(recorded(), undefined);
  });

  test('--help names every flag and says the construct uses the cluster name as the backup prefix', async () => {
    const run = await restore('--help');
    assert.equal(run.code, 0);
    for (const flag of [
      '--bucket',
      '--from',
      '--backup-prefix',
      '--cluster-name',
      '--parameter-prefix',
      '--replace',
      '--cancel',
      '--region',
    ])
      assert.ok(run.stdout.includes(flag), flag);
    assert.match(run.stdout, /default: the cluster name, which is what\s+the construct uses/);
  });
});
