// The AWS adapters: Auto Scaling, EC2, SSM Parameter Store and SQS, each a thin typed layer over SDK v3.
export * from './autoscaling.js';
export * from './clients.js';
export * from './ec2.js';
export * from './errors.js';
export * from './identifiers.js';
export * from './parameters.js';
export * from './queue.js';
