// The etcd adapter: a v3 JSON gateway client, health checks and typed errors.
export {
  EtcdClient,
  isStaleConnection,
  errorFromAnswer,
  majorMinor,
  supportsLinearizableMemberList,
  DEFAULT_DEADLINE_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type CallOptions,
  type EtcdAuthOptions,
  type EtcdClientOptions,
  type EtcdVersion,
  type LearnerProgress,
  type MemberAddResult,
  type MemberList,
  type PutIfAbsentResult,
} from './client.js';
export { EtcdError, isEtcdError, classifyEtcdError, GrpcCode, type EtcdErrorCode } from './errors.js';
export {
  checkMembersHealth,
  observeCluster,
  healthFromStatus,
  DEFAULT_HEALTH_CONCURRENCY,
  DEFAULT_HEALTH_TIMEOUT_MS,
  type HealthCheckOptions,
  type ObservedCluster,
} from './health.js';
export {
  createTransportAgents,
  sharedTransportAgents,
  IDLE_SOCKET_TIMEOUT_MS,
  httpsAgentOptions,
  readTlsFiles,
  EtcdTlsConfigError,
  type EtcdTlsFiles,
  type EtcdTlsOptions,
} from './tls.js';
export { type EtcdAlarm, type KeyValue, type MaintenanceStatus } from './wire.js';
export {
  SnapshotDigest,
  SNAPSHOT_BUFFER_BYTES,
  SNAPSHOT_TRAILER_BYTES,
  type SnapshotDigestResult,
  type SnapshotHeader,
  type SnapshotStreamOptions,
  type SnapshotTransport,
} from './snapshot.js';
