// The real-etcd test harness: loopback addresses, etcd members and clusters, a discovery service, etcdctl.
export { allocateAddresses, releaseAddresses, CLIENT_PORT, PEER_PORT } from './addresses.js';
export {
  createCluster,
  startCluster,
  clientURLOf,
  peerURLOf,
  readStatus,
  readLocalMemberList,
  probeJson,
  EtcdCluster,
  EtcdMember,
  DiscoveryService,
  DISCOVERY_PORT,
  type StartClusterOptions,
  type StartMemberOptions,
  type MemberTls,
} from './etcd.js';
export {
  TestPki,
  etcdctlTlsFlags,
  httpsJson,
  memberTlsSettings,
  servedCertificate,
  tryHttpsJson,
  type HttpsOutcome,
  type IssueOptions,
  type ServedCertificate,
  type TlsClientIdentity,
  type TlsFiles,
  type TlsPems,
} from './tls.js';
export { etcdctl, etcdctlOk, etcdctlMemberList, parseEtcdctlJson, type EtcdctlMember, type EtcdctlResult } from './etcdctl.js';
export { pollUntil, tryJson, type PollOptions } from './wait.js';
export { parseDropin, splitSystemdCommand, DropinParseError, type Dropin, type DropinRules } from './systemd.js';
export {
  binaryPaths,
  discoveryBinary,
  etcdBinaries,
  etcdServerVersion,
  parseEtcdVersionName,
  selectedEtcdVersion,
  DEFAULT_ETCD_VERSION,
  ETCD_VERSIONS,
  EtcdSetupError,
  type EtcdBinaries,
  type EtcdVersionName,
} from './versions.js';
export { restoreSnapshot, restoreTool, saveSnapshot, type RestoreOptions } from './snapshot.js';
