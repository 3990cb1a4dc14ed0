// The example stack: one ElasticEtcdCluster plus the outputs an operator needs to find and use it.
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ElasticEtcdCluster, type ElasticEtcdClusterProps } from './elastic-etcd-cluster.js';

export interface ElasticEtcdStackProps extends StackProps {
  readonly cluster?: ElasticEtcdClusterProps;
}

export class ElasticEtcdStack extends Stack {
  readonly cluster: ElasticEtcdCluster;

  constructor(scope: Construct, id: string, props: ElasticEtcdStackProps = {}) {
    super(scope, id, props);
    this.cluster = new ElasticEtcdCluster(this, 'Cluster', props.cluster);

    new CfnOutput(this, 'AutoScalingGroupName', {
      description: 'The etcd Auto Scaling group; terminate one of its instances to watch the cluster heal',
      value: this.cluster.autoScalingGroupName,
    });
    new CfnOutput(this, 'ParameterPath', {
      description: "Parameter Store path of this cluster's bootstrap record and per-instance drop-ins",
      value: this.cluster.parameterPath,
    });
    new CfnOutput(this, 'ClientSecurityGroupId', {
      description: 'Add etcd clients to this security group to reach the client port (2379)',
      value: this.cluster.clientSecurityGroup.securityGroupId,
    });
    new CfnOutput(this, 'LifecycleFunctionName', {
      description: 'The Lambda that plans membership changes (see its logs)',
      value: this.cluster.lifecycleFunction.functionName,
    });
    new CfnOutput(this, 'LogGroupName', {
      description: "The Lambda's logs: every plan, refusal and membership change",
      value: this.cluster.logGroup.logGroupName,
    });
    new CfnOutput(this, 'QueueDeadLetterQueueUrl', {
      description: 'Lifecycle and reconcile events the Lambda failed on repeatedly; should stay empty',
      value: this.cluster.queueDeadLetterQueue.queueUrl,
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      description: 'Events EventBridge could not deliver to the queue; should stay empty',
      value: this.cluster.deadLetterQueue.queueUrl,
    });
    if (this.cluster.caCertificateParameterName !== undefined && this.cluster.clientParametersPath !== undefined) {
      new CfnOutput(this, 'CaCertificateParameter', {
        description: "SSM parameter (String) holding the cluster CA's certificate (PEM): clients trust the members with it",
        value: this.cluster.caCertificateParameterName,
      });
      new CfnOutput(this, 'ClientParametersPath', {
        description:
          'SSM path of the client certificates: cluster.grantClient(grantee, name) makes <path>/<name> (SecureString JSON) readable by grantee',
        value: this.cluster.clientParametersPath,
      });
    }
    new CfnOutput(this, 'EtcdVersion', {
      description: 'The etcd release every member installs (checksum-verified)',
      value: this.cluster.etcdRelease.version,
    });
  }
}
