// The lifecycle-hook handler's decisions: launch, terminate and the scheduled reconcile pass.
//
// Every handler is safe to run twice for the same event and tolerates events that come late or out of
// order: it looks at the group and the cluster as they are now, not at what the event claims. Membership
// changes happen under the cluster lock in etcd (shared with the CLI), and the serialising FIFO queue (one
// message group) hands the Lambda one event at a time. Transient trouble (a join still in progress, etcd
// briefly unhealthy, AWS throttling) ends in a thrown error, so the event is delivered again and the reconcile
// pass catches whatever is left over.
export { RetryLaterError, loggerFor, type LifecycleDeps } from './common.js';
export { handleLaunch, parseBootstrapRecord, type BootstrapRecord, type LaunchOutcome } from './launch.js';
export { type TerminateOutcome } from './members.js';
export { reconcile, type ReconcileReport } from './reconcile.js';
export { handleTerminate } from './terminate.js';
