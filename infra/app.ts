// The CDK app `cdk.json` runs: the example stack, checked by cdk-nag's AwsSolutions pack at every synth.
// Optional context: -c stackName=... -c clusterName=... -c clusterSize=...
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ElasticEtcdStack } from './stack.js';

const app = new App();
const stackName = stringContext('stackName') ?? 'ElasticEtcd';
const clusterSize = stringContext('clusterSize');

new ElasticEtcdStack(app, stackName, {
  description: 'elastic-etcd: a self-healing etcd cluster on an Auto Scaling group',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  cluster: {
    clusterName: stringContext('clusterName') ?? 'etcd',
    ...(clusterSize === undefined ? {} : { clusterSize: Number(clusterSize) }),
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
