// The simulated cloud: one Auto Scaling group with its EC2 instances, SSM Parameter Store and IMDSv2,
// served on a loopback HTTP endpoint that the real AWS SDK clients talk to.
export * from './events.js';
export * from './group.js';
export * from './parameters.js';
export * from './rng.js';
export * from './server.js';
