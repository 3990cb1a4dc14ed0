// The etcd discovery adapter: pure parsing (parse.ts), HTTP calls (client.ts), typed errors (errors.ts).
export { DiscoveryError, isDiscoveryError, type DiscoveryErrorCode } from './errors.js';
export {
  MAX_DISCOVERY_SIZE,
  bootstrapEntries,
  deriveClientEndpoints,
  formatRegistryValue,
  parseDiscoveryURL,
  parseRegistryResponse,
  parseRegistryValue,
  parseSizeResponse,
  type ParsedRegistryValue,
  type Registry,
  type RegistryEntry,
  type RegistryProblem,
} from './parse.js';
export {
  DEFAULT_DISCOVERY_TIMEOUT_MS,
  deregister,
  readRegistry,
  readSize,
  register,
  type DeregisterOutcome,
  type DiscoveryRequestOptions,
  type RegisterOutcome,
} from './client.js';
