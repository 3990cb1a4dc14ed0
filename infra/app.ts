// The CDK app `cdk.json` runs: the example stack, checked by cdk-nag's AwsSolutions pack at every synth.
// Optional context: -c stackName=... -c clusterName=... -c clusterSize=... -c etcdVersion=...
//                   -c region=... [-c account=...]
// Without -c region the template is environment-agnostic: it names no region or account (ARNs use the
// AWS::Region / AWS::Partition pseudo parameters) and `cdk deploy` targets the region of the deploying
// credentials' profile. The synth machine's own region is never baked in silently.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ElasticEtcdStack } from './stack.js';
import { CLUSTER_DEFAULTS } from '../src/core/defaults.js';

const app = new App();
const stackName = stringContext('stackName') ?? 'ElasticEtcd';
const clusterSize = stringContext('clusterSize');
const etcdVersion = stringContext('etcdVersion');
const region = stringContext('region');
const account = stringContext('account');
if (account !== undefined && region === undefined) throw new Error('context account needs context region too (-c region=...)');

new ElasticEtcdStack(app, stackName, {
  description: 'elastic-etcd: a self-healing etcd cluster on an Auto Scaling group',
  ...(region === undefined ? {} : { env: { region, ...(account === undefined ? {} : { account }) } }),
  cluster: {
    clusterName: stringContext('clusterName') ?? CLUSTER_DEFAULTS.clusterName,
    ...(clusterSize === undefined ? {} : { clusterSize: Number(clusterSize) }),
    ...(etcdVersion === undefined ? {} : { etcdVersion }),
  },
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();

function stringContext(key: string): string | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined) return undefined;
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`context ${key} must be a string`);
  return String(value);
}
