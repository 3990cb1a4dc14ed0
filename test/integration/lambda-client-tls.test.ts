// The Lambda's certificates served by real etcd (ETCD_VERSION selects 3.4 or 3.5): a member started from what a
// launch stores (its `tls` parameter's certificate, key and CA in files, the drop-in's TLS settings and https URLs)
// answers the Lambda's connection (its own client certificate, deps.connection.tls), and refuses a client without a
// certificate.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { settingsEntries } from '../../src/core/render.js';
import { clientFor } from '../../src/services/connection.js';
import { clientURL, peerURL } from '../../src/lambda/group.js';
import { issueMemberTls, prepareTls, type TlsContext } from '../../src/lambda/tls.js';
import { createCluster, pollUntil, type EtcdCluster } from '../harness/index.js';
import { startWorld, type World } from '../sim/world.js';

describe("the Lambda's mutual TLS against a member configured as a launch configures it", () => {
  let world: World;
  let cluster: EtcdCluster;
  let context: TlsContext;
  let url: string;

  before(async () => {
    world = await startWorld({ seed: 51, boot: 'none', clusterSize: 1 });
    cluster = createCluster();
    const ip = await cluster.allocateIp();
    context = (await prepareTls(world.deps))!;
    const instanceId = 'i-0000000000000000a';
    const record = JSON.parse(
      await issueMemberTls(
        context.ca,
        { instanceId, lifecycleState: 'Pending:Wait', privateIp: ip, ec2State: 'running' },
        world.config.tls!,
      ),
    ) as { caCertificate: string; certificate: string; privateKey: string };
    // What the boot script writes from instances/<id>/tls.
    const pki = join(cluster.dir, `pki-${ip}`);
    mkdirSync(pki, { recursive: true, mode: 0o700 });
    const files = { trustedCaFile: join(pki, 'ca.crt'), certFile: join(pki, 'member.crt'), keyFile: join(pki, 'member.key') };
    writeFileSync(files.trustedCaFile, record.caCertificate);
    writeFileSync(files.certFile, record.certificate);
    writeFileSync(files.keyFile, record.privateKey, { mode: 0o600 });
    url = clientURL(ip, world.config);
    const peer = peerURL(ip, world.config);
    const settings = Object.fromEntries(
      settingsEntries({
        name: instanceId,
        dataDir: 'data',
        initialAdvertisePeerURLs: [peer],
        initialClusterState: 'new',
        initialCluster: [{ name: instanceId, peerURL: peer }],
        initialClusterToken: 'lambda-client-tls',
        listenPeerURLs: [peer],
        listenClientURLs: [url],
        advertiseClientURLs: [url],
        tls: files,
      }),
    );
    await cluster.startMember({ ip, settings, tls: false, wait: 'none' });
  });
  after(async () => {
    await cluster.close();
    await world.close();
  });

  test('the Lambda connection lists the member over https with its client certificate', async () => {
    assert.match(url, /^https:\/\//);
    const members = await pollUntil(
      async () => {
        const client = clientFor([url], context.deps.connection);
        try {
          return (await client.memberList()).members;
        } catch {
          return undefined;
        } finally {
          client.close();
        }
      },
      { timeoutMs: 30_000, what: 'the TLS member to answer the Lambda' },
    );
    assert.equal(members.length, 1);
    assert.ok(members[0]!.peerURLs.every((u) => u.startsWith('https://')));
  });

  test('a client without a certificate is refused', async () => {
    const client = clientFor([url], { requestTimeoutMs: 2000, healthTimeoutMs: 1000, tls: { ca: context.ca.certificate.pem } });
    try {
      await assert.rejects(client.memberList());
    } finally {
      client.close();
    }
  });
});
