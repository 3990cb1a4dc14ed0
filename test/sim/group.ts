// A stateful, deterministic in-memory model of one Auto Scaling group and the EC2 instances behind it.
//
// Lifecycle (with both hooks configured):
//   launch:    Pending:Wait --CONTINUE--> InService
//                           --ABANDON---> Terminated (and a replacement while below desired capacity)
//   terminate: InService -> Terminating:Wait --CONTINUE|ABANDON--> Terminated
// Every transition into a wait state emits the real-shaped EventBridge event to the subscribers, which
// decide when (and whether, how often, in which order) to deliver it. Booting is pluggable: `onBoot` runs
// when the instance is running (while its launch action is still pending, as on EC2), `onShutdown` when
// it is terminated.
import { allocateAddresses, releaseAddresses } from '../harness/addresses.js';
import { lifecycleActionEvent, scheduledEvent, testNotification } from './events.js';
import type { EventBridgeEvent } from './events.js';
import { SeededRandom } from './rng.js';

export type LifecycleState = 'Pending:Wait' | 'InService' | 'Terminating:Wait' | 'Terminated';
export type Ec2State = 'running' | 'shutting-down' | 'terminated';

export interface SimInstance {
  readonly id: string;
  readonly privateIp: string;
  readonly availabilityZone: string;
  readonly launchTime: Date;
  lifecycleState: LifecycleState;
  ec2State: Ec2State;
  healthStatus: 'Healthy' | 'Unhealthy';
}

export interface PendingLifecycleAction {
  readonly token: string;
  readonly instanceId: string;
  readonly hookName: string;
  readonly transition: 'launch' | 'terminate';
  heartbeats: number;
}

export type LifecycleResult = 'CONTINUE' | 'ABANDON';

export interface SimulatedGroupOptions {
  readonly groupName?: string;
  /** Seeds instance IDs, tokens and event IDs. */
  readonly seed?: number;
  /** Lifecycle hook names; `null` runs the group without that hook. */
  readonly launchHook?: string | null;
  readonly terminateHook?: string | null;
  /**
   * 'late': the group exists before its hooks, as CloudFormation orders a group and separate
   * AWS::AutoScaling::LifecycleHook resources: instances launched before `attachHooks()` go straight to
   * InService (no launch action, no event), as hooks apply only to transitions after they exist.
   */
  readonly hooks?: 'with-group' | 'late';
  /** How long an instance takes from running to its boot script starting (e.g. a slow AMI or download). */
  readonly bootDelayMs?: number;
  readonly region?: string;
  readonly account?: string;
  readonly availabilityZones?: readonly string[];
  /** Hands out a private IP for a new instance; defaults to a loopback address from the test harness. */
  readonly allocateIp?: () => Promise<string>;
  /** Gives an address back once the instance is terminated and shut down. */
  readonly releaseIp?: (ip: string) => void;
  readonly onBoot?: (instance: SimInstance) => Promise<void> | void;
  readonly onShutdown?: (instance: SimInstance) => Promise<void> | void;
  readonly clock?: () => Date;
  /** The group's HealthCheckGracePeriod (seconds; CreateAutoScalingGroup's default is 0). */
  readonly healthCheckGracePeriodSeconds?: number;
}

/** What AWS answers with a ValidationError. */
export class SimValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

export type EventListener = (event: EventBridgeEvent) => void;

export class SimulatedGroup {
  readonly name: string;
  readonly region: string;
  readonly account: string;
  readonly launchHook: string | null;
  readonly terminateHook: string | null;
  private readonly random: SeededRandom;
  private readonly zones: readonly string[];
  private readonly instancesById = new Map<string, SimInstance>();
  /** IDs EC2 no longer knows (terminated long ago): DescribeInstances answers InvalidInstanceID.NotFound. */
  private readonly forgotten = new Set<string>();
  private readonly actions = new Map<string, PendingLifecycleAction>();
  private readonly listeners = new Set<EventListener>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly callbackErrors: unknown[] = [];
  private desired = 0;
  private launches = 0;
  private hooksAttached: boolean;
  private bootDelayMs: number;
  private holdingBoots = false;
  private readonly heldBoots = new Map<string, () => void>();

  constructor(private readonly options: SimulatedGroupOptions = {}) {
    this.name = options.groupName ?? 'sim-etcd-asg';
    this.region = options.region ?? 'us-east-1';
    this.account = options.account ?? '123456789012';
    this.launchHook = options.launchHook === undefined ? 'etcd-launch' : options.launchHook;
    this.terminateHook = options.terminateHook === undefined ? 'etcd-terminate' : options.terminateHook;
    this.zones = options.availabilityZones ?? [`${this.region}a`, `${this.region}b`, `${this.region}c`];
    this.random = new SeededRandom(options.seed ?? 1);
    this.hooksAttached = options.hooks !== 'late';
    this.bootDelayMs = options.bootDelayMs ?? 0;
  }

  /** PutLifecycleHook for both hooks, after the fact (mode 'late'): later transitions wait on them. */
  attachHooks(): void {
    this.hooksAttached = true;
  }

  /**
   * Instances launched from now on (true) do not boot until `releaseBoot`: a boot as slow as the test needs,
   * e.g. a large snapshot or a slow download, without depending on timing.
   */
  holdBoots(hold: boolean): void {
    this.holdingBoots = hold;
  }

  /** Lets a held instance boot now. */
  releaseBoot(id: string): void {
    const release = this.heldBoots.get(id);
    if (release === undefined) throw new Error(`instance ${id} has no held boot`);
    this.heldBoots.delete(id);
    release();
  }

  /** Instances launched from now on take `ms` before their boot script runs (0: at once). */
  setBootDelay(ms: number): void {
    this.bootDelayMs = ms;
  }

  get desiredCapacity(): number {
    return this.desired;
  }

  /** Receives every emitted event; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The group's instances (not yet terminated), oldest first. */
  instances(): SimInstance[] {
    return [...this.instancesById.values()].filter((i) => i.lifecycleState !== 'Terminated');
  }

  /** Every instance EC2 still knows, terminated ones included. */
  ec2Instances(): SimInstance[] {
    return [...this.instancesById.values()].filter((i) => !this.forgotten.has(i.id));
  }

  instance(id: string): SimInstance | undefined {
    return this.forgotten.has(id) ? undefined : this.instancesById.get(id);
  }

  pendingActions(): PendingLifecycleAction[] {
    return [...this.actions.values()];
  }

  pendingAction(instanceId: string): PendingLifecycleAction | undefined {
    return this.actions.get(instanceId);
  }

  /** Sets the desired capacity and launches or terminates instances to reach it. */
  async setDesired(capacity: number): Promise<void> {
    if (!Number.isInteger(capacity) || capacity < 0) throw new SimValidationError(`invalid desired capacity ${capacity}`);
    this.desired = capacity;
    await this.converge();
  }

  /** Scales out by one instance; raises the desired capacity. */
  async launch(): Promise<SimInstance> {
    this.desired++;
    return this.launchOne();
  }

  /**
   * Terminates an instance. By default the desired capacity drops by one (a scale-in); with
   * `replace: true` it stays, so the group launches a replacement (an unhealthy instance).
   */
  async terminate(id: string, options: { replace?: boolean } = {}): Promise<void> {
    const instance = this.instancesById.get(id);
    if (instance === undefined || instance.lifecycleState === 'Terminated' || instance.lifecycleState === 'Terminating:Wait') {
      throw new SimValidationError(`instance ${id} is not part of the group or is already terminating`);
    }
    if (options.replace !== true) this.desired = Math.max(0, this.desired - 1);
    else instance.healthStatus = 'Unhealthy';
    this.actions.delete(id); // a pending launch action ends with the instance
    this.beginTermination(instance);
    await this.converge();
  }

  /**
   * SetInstanceHealth, as documented: Unhealthy takes the instance out of service, so the group terminates it
   * (through the terminate hook) and launches a replacement (desired capacity kept). Unless
   * `shouldRespectGracePeriod` is false, a call within the group's health check grace period after the launch
   * is ignored. An instance that is not in the group is a ValidationError.
   */
  async setInstanceHealth(id: string, status: 'Healthy' | 'Unhealthy', shouldRespectGracePeriod = true): Promise<void> {
    const instance = this.instancesById.get(id);
    if (instance === undefined || instance.lifecycleState === 'Terminated' || this.forgotten.has(id)) {
      throw new SimValidationError(`Instance Id not found - No managed instance found for instance ID: ${id}`);
    }
    const graceMs = (this.options.healthCheckGracePeriodSeconds ?? 0) * 1000;
    if (shouldRespectGracePeriod && this.now().getTime() - instance.launchTime.getTime() < graceMs) return;
    if (status === 'Healthy' || instance.lifecycleState === 'Terminating:Wait') {
      if (instance.lifecycleState !== 'Terminating:Wait') instance.healthStatus = status;
      return;
    }
    instance.healthStatus = 'Unhealthy';
    // Only an instance in service is replaced; one still launching stays Unhealthy until it is.
    if (instance.lifecycleState !== 'InService') return;
    await this.terminate(id, { replace: true });
  }

  /** EC2 forgets a terminated instance (as it does about an hour after termination). */
  forget(id: string): void {
    const instance = this.instancesById.get(id);
    if (instance?.lifecycleState !== 'Terminated') throw new Error(`only terminated instances can be forgotten: ${id}`);
    this.forgotten.add(id);
  }

  /** CompleteLifecycleAction: by token, by instance ID, or both (both must then match). */
  async completeLifecycleAction(input: {
    groupName: string;
    hookName: string;
    instanceId?: string;
    token?: string;
    result: LifecycleResult;
  }): Promise<void> {
    const action = this.findAction(input);
    this.actions.delete(action.instanceId);
    await this.applyResult(action, input.result);
  }

  recordHeartbeat(input: { groupName: string; hookName: string; instanceId?: string; token?: string }): void {
    this.findAction(input).heartbeats++;
  }

  /** The action's heartbeat timeout ran out: apply the hook's default result (ABANDON). */
  async expireLifecycleAction(instanceId: string): Promise<void> {
    const action = this.actions.get(instanceId);
    if (action === undefined) throw new Error(`no pending lifecycle action for ${instanceId}`);
    this.actions.delete(instanceId);
    await this.applyResult(action, 'ABANDON');
  }

  /** Emits the scheduled reconcile event to the subscribers. */
  emitScheduledEvent(): EventBridgeEvent {
    const event = scheduledEvent({ id: this.random.uuid(), time: this.now(), region: this.region, account: this.account });
    this.emit(event);
    return event;
  }

  /** The test notification (not an EventBridge event, so it is returned rather than emitted). */
  testNotification() {
    return testNotification({
      requestId: this.random.uuid(),
      time: this.now(),
      region: this.region,
      account: this.account,
      groupName: this.name,
    });
  }

  /** Waits until every onBoot/onShutdown callback started so far has finished; rethrows the first failure. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    if (this.callbackErrors.length > 0) throw this.callbackErrors.shift();
  }

  /** A fresh UUID from the seeded generator (request IDs of the simulated endpoint). */
  nextUuid(): string {
    return this.random.uuid();
  }

  // --- internals ---

  private now(): Date {
    return this.options.clock?.() ?? new Date();
  }

  private async launchOne(): Promise<SimInstance> {
    const id = this.random.instanceId();
    const privateIp = await (this.options.allocateIp ?? defaultAllocateIp)();
    const instance: SimInstance = {
      id,
      privateIp,
      availabilityZone: this.zones[this.launches % this.zones.length] ?? `${this.region}a`,
      launchTime: this.now(),
      lifecycleState: this.activeLaunchHook() === null ? 'InService' : 'Pending:Wait',
      ec2State: 'running',
      healthStatus: 'Healthy',
    };
    this.launches++;
    this.instancesById.set(id, instance);
    const hook = this.activeLaunchHook();
    if (hook !== null) this.openAction(instance, hook, 'launch');
    const delayMs = this.bootDelayMs;
    if (this.holdingBoots) {
      const released = new Promise<void>((resolve) => this.heldBoots.set(id, resolve));
      // Detached: a held boot waits for the test, like the world's own boot tasks.
      void released.then(() => (instance.ec2State === 'running' ? this.track(this.options.onBoot?.(instance)) : undefined));
    } else {
      this.track(delayMs === 0 ? this.options.onBoot?.(instance) : bootLater(delayMs, instance, this.options.onBoot));
    }
    return instance;
  }

  private activeLaunchHook(): string | null {
    return this.hooksAttached ? this.launchHook : null;
  }

  private beginTermination(instance: SimInstance): void {
    if (this.terminateHook === null || !this.hooksAttached || instance.lifecycleState === 'Pending:Wait') {
      // An instance whose launch never completed has nothing to drain: it goes straight away.
      this.finishTermination(instance);
      return;
    }
    instance.lifecycleState = 'Terminating:Wait';
    this.openAction(instance, this.terminateHook, 'terminate');
  }

  private finishTermination(instance: SimInstance): void {
    instance.lifecycleState = 'Terminated';
    instance.ec2State = 'terminated';
    const shutdown = Promise.resolve(this.options.onShutdown?.(instance)).finally(() => {
      (this.options.releaseIp ?? defaultReleaseIp)(instance.privateIp);
    });
    this.track(shutdown);
  }

  private openAction(instance: SimInstance, hookName: string, transition: 'launch' | 'terminate'): void {
    const action: PendingLifecycleAction = { token: this.random.uuid(), instanceId: instance.id, hookName, transition, heartbeats: 0 };
    this.actions.set(instance.id, action);
    this.emit(
      lifecycleActionEvent({
        id: this.random.uuid(),
        time: this.now(),
        region: this.region,
        account: this.account,
        groupName: this.name,
        hookName,
        instanceId: instance.id,
        token: action.token,
        transition,
      }),
    );
  }

  private async applyResult(action: PendingLifecycleAction, result: LifecycleResult): Promise<void> {
    const instance = this.instancesById.get(action.instanceId);
    if (instance === undefined) return;
    if (action.transition === 'launch') {
      if (result === 'CONTINUE') instance.lifecycleState = 'InService';
      else this.finishTermination(instance); // an abandoned launch terminates the instance
    } else {
      this.finishTermination(instance); // both results proceed with termination
    }
    await this.converge();
  }

  private findAction(input: { groupName: string; hookName: string; instanceId?: string; token?: string }): PendingLifecycleAction {
    if (input.groupName !== this.name) throw new SimValidationError(`Group ${input.groupName} not found`);
    if (input.hookName !== this.launchHook && input.hookName !== this.terminateHook) {
      throw new SimValidationError(`Could not find Lifecycle Hook with name ${input.hookName} for group ${input.groupName}`);
    }
    const action =
      input.instanceId !== undefined ? this.actions.get(input.instanceId) : [...this.actions.values()].find((a) => a.token === input.token);
    if (action === undefined || action.hookName !== input.hookName || (input.token !== undefined && action.token !== input.token)) {
      const what = input.instanceId !== undefined ? `instance ID ${input.instanceId}` : `token ${input.token ?? ''}`;
      throw new SimValidationError(`No active Lifecycle Action found with ${what}`);
    }
    return action;
  }

  /** Launches or terminates until the instances not on their way out match the desired capacity. */
  private async converge(): Promise<void> {
    for (;;) {
      const serving = this.instances().filter((i) => i.lifecycleState !== 'Terminating:Wait');
      if (serving.length < this.desired) {
        await this.launchOne();
      } else if (serving.length > this.desired) {
        // Newest first: deterministic, and keeps the longest-lived members.
        const newest = serving.reduce((a, b) => (b.launchTime >= a.launchTime ? b : a));
        this.actions.delete(newest.id);
        this.beginTermination(newest);
      } else {
        return;
      }
    }
  }

  private emit(event: EventBridgeEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private track(result: Promise<void> | void): void {
    if (result === undefined) return;
    const tracked: Promise<void> = result
      .catch((err: unknown) => {
        this.callbackErrors.push(err);
      })
      .finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }
}

/** The boot callback after `ms`, unless the instance was terminated meanwhile. */
async function bootLater(ms: number, instance: SimInstance, onBoot: SimulatedGroupOptions['onBoot']): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  if (instance.ec2State === 'running') await onBoot?.(instance);
}

async function defaultAllocateIp(): Promise<string> {
  const [ip] = await allocateAddresses(1);
  if (ip === undefined) throw new Error('no loopback address available');
  return ip;
}

function defaultReleaseIp(ip: string): void {
  releaseAddresses([ip]);
}
