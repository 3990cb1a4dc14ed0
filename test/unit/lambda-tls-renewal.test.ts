// Renewal in the reconcile pass, against the simulated cloud without etcd: member certificates
// (instances/<id>/tls) and configured client certificates (tls/clients/<name>) are re-issued when due at the
// configured fraction of their lifetime, or when missing, unreadable or not naming the instance; each re-issue is a
// logged decision with its reason; a good certificate that is not due is left alone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCertificate, createCertificateAuthority } from '../../src/adapters/pki/index.js';
import { loadGroup, type GroupView } from '../../src/lambda/group.js';
import type { ReconcileReport } from '../../src/lambda/reconcile.js';
import { issueMemberTls, prepareTls, renewCertificates, type TlsContext } from '../../src/lambda/tls.js';
import { startWorld, type World } from '../sim/world.js';

const DAY_MS = 86_400_000;

interface StoredTls {
  caCertificate: string;
  certificate: string;
  privateKey: string;
  notAfter: string;
}

describe('certificate renewal in the reconcile pass', () => {
  let world: World;
  let ids: string[];
  let context: TlsContext;
  let group: GroupView;
  const tlsName = (id: string) => world.parameters.instanceName(id, 'tls');
  const stored = (name: string) => JSON.parse(world.cloud.parameters.value(name)!) as StoredTls;
  const version = (name: string) => world.cloud.parameters.get(name).version;
  const renewals = (from: number) => (world.telemetry?.decisions() ?? []).slice(from).filter((d) => d.decision === 'renew-certificate');
  /** Stores a member certificate for `id` issued `daysAgo` days ago (as the Lambda would have). */
  const backdate = async (id: string, daysAgo: number, override: Partial<{ privateIp: string }> = {}) => {
    const instance = { ...group.instances.get(id)!, ...override };
    const value = await issueMemberTls(context.ca, instance, world.config.tls!, new Date(Date.now() - daysAgo * DAY_MS));
    await world.parameters.putInstanceFile(id, 'tls', value);
  };

  before(async () => {
    world = await startWorld({ seed: 41, boot: 'none', clusterSize: 3 });
    // A CA made 60 days ago, as a cluster that has run a while has: certificates can then be back-dated.
    const made = await createCertificateAuthority({ clusterName: 'sim', now: new Date(Date.now() - 60 * DAY_MS) });
    await world.parameters.createOnly(
      world.parameters.tlsCaName(),
      JSON.stringify({ format: 1, ...made, createdAt: new Date().toISOString() }),
      {
        secure: true,
      },
    );
    await world.scaleTo(3);
    await world.runUntilQuiet({ reconcile: 'never' });
    ids = world.inService().sort();
    assert.equal(ids.length, 3);
    context = (await prepareTls(world.deps))!;
    group = await loadGroup(world.config.autoScalingGroup, world.deps.autoScaling, world.deps.ec2);
  });
  after(async () => world.close());

  test('fresh member certificates are left alone', async () => {
    const versions = ids.map((id) => version(tlsName(id)));
    assert.deepEqual(await renewCertificates(group, context), { members: [], clients: [] });
    assert.deepEqual(
      ids.map((id) => version(tlsName(id))),
      versions,
    );
  });

  test('the pass re-issues a due, a missing, an unreadable and a mis-named certificate, each a decision with its reason', async () => {
    const [due, missing, other] = ids as [string, string, string];
    await backdate(due, 21); // past two thirds of 30 days
    world.cloud.parameters.delete(tlsName(missing));
    const from = world.telemetry?.decisions().length ?? 0;
    const pass = await world.reconcile();
    const report = JSON.parse(String(pass.result?.outcome)) as ReconcileReport;
    assert.deepEqual(report.renewedCertificates.sort(), [due, missing].sort());
    const reasons = Object.fromEntries(renewals(from).map((d) => [String(d.instanceId), String(d.reason)]));
    assert.match(reasons[due] ?? '', /reached 67 % of its lifetime/);
    assert.equal(reasons[missing], 'it has no certificate yet');
    assert.equal(reasons[other], undefined);
    for (const id of [due, missing]) {
      const renewed = stored(tlsName(id));
      const instance = world.instance(id);
      const facts = checkCertificate({
        certificate: { pem: renewed.certificate, source: id },
        privateKey: { pem: renewed.privateKey, source: `${id} key` },
        ca: { pem: renewed.caCertificate, source: 'ca' },
        usage: 'member',
        names: { ips: [instance.privateIp], dnsNames: [] },
      });
      assert.ok(facts.notAfter.getTime() > Date.now() + 29 * DAY_MS, 'a full new lifetime');
      assert.equal(world.cloud.parameters.get(tlsName(id)).type, 'SecureString');
      assert.equal(world.cloud.parameters.tags(tlsName(id))?.['elastic-etcd:group'], world.group.name);
    }

    // Unreadable, and naming another address (a SAN mismatch): both re-issued.
    await world.parameters.putInstanceFile(due, 'tls', 'not json');
    await backdate(missing, 0, { privateIp: '10.9.9.9' });
    const again = renewals(world.telemetry?.decisions().length ?? 0);
    assert.deepEqual(again, []);
    const from2 = world.telemetry?.decisions().length ?? 0;
    const second = JSON.parse(String((await world.reconcile()).result?.outcome)) as ReconcileReport;
    assert.deepEqual(second.renewedCertificates.sort(), [due, missing].sort());
    const reasons2 = Object.fromEntries(renewals(from2).map((d) => [String(d.instanceId), String(d.reason)]));
    assert.match(reasons2[due] ?? '', /cannot be used: .*tls: does not hold JSON/);
    assert.match(reasons2[missing] ?? '', /cannot be used: .*does not name IP 127\./);

    // Once renewed, a pass renews nothing.
    const third = JSON.parse(String((await world.reconcile()).result?.outcome)) as ReconcileReport;
    assert.deepEqual(third.renewedCertificates, []);
  });

  test('the renewal point is the configured fraction of the lifetime', async () => {
    const [id] = ids as [string];
    await backdate(id, 16); // 53 % of 30 days
    const at = (fraction: number): TlsContext => ({
      ...context,
      deps: { ...context.deps, config: { ...world.config, tls: { ...world.config.tls!, renewAtFraction: fraction } } },
    });
    assert.deepEqual((await renewCertificates(group, at(2 / 3))).members, []);
    assert.deepEqual((await renewCertificates(group, at(0.5))).members, [id]);
  });

  test('configured clients: issued into tls/clients/<name>, SecureString, CN = name, renewed when due', async () => {
    const withClients: TlsContext = {
      ...context,
      deps: { ...context.deps, config: { ...world.config, tls: { ...world.config.tls!, clients: ['app', 'backup-job'] } } },
    };
    const from = world.telemetry?.decisions().length ?? 0;
    assert.deepEqual((await renewCertificates(group, withClients)).clients, ['app', 'backup-job']);
    for (const name of ['app', 'backup-job']) {
      const parameter = world.parameters.tlsClientName(name);
      assert.equal(world.cloud.parameters.get(parameter).type, 'SecureString');
      const record = stored(parameter);
      const facts = checkCertificate({
        certificate: { pem: record.certificate, source: name },
        privateKey: { pem: record.privateKey, source: `${name} key` },
        ca: context.ca.certificate,
        usage: 'client',
      });
      assert.equal(facts.commonName, name);
      assert.equal(record.notAfter, facts.notAfter.toISOString());
    }
    assert.deepEqual(
      renewals(from).map((d) => [d.client, d.reason]),
      [
        ['app', 'it has no certificate yet'],
        ['backup-job', 'it has no certificate yet'],
      ],
    );
    // Not due: left alone. Due (a pass 25 days later): re-issued.
    assert.deepEqual((await renewCertificates(group, withClients)).clients, []);
    const later = new Date(Date.now() + 25 * DAY_MS);
    const renewed = await renewCertificates(group, withClients, later);
    assert.deepEqual(renewed.clients, ['app', 'backup-job']);
    assert.equal(version(world.parameters.tlsClientName('app')), 2);
  });

  test('instances not configured yet (no drop-in) are left to their launch', async () => {
    await world.scaleTo(4);
    const fresh = world.idsIn('Pending:Wait');
    assert.equal(fresh.length, 1);
    const view = await loadGroup(world.config.autoScalingGroup, world.deps.autoScaling, world.deps.ec2);
    const report = await renewCertificates(view, context);
    assert.ok(!report.members.includes(fresh[0]!));
    assert.equal(world.cloud.parameters.value(tlsName(fresh[0]!)), undefined);
  });
});
