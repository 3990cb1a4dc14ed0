// What the cloud says about the Auto Scaling group: its instances, their addresses and whether they will
// ever serve again. Members are named after instance IDs, so this is how the Lambda tells a dead member
// (its instance is gone) from one that is merely booting.
import { isUnstarted } from '../core/members.js';
import type { Member, PlatformKnowledge } from '../core/types.js';
import { hostOf } from '../core/urls.js';
import { isGoneState, isInstanceId, type AutoScalingAdapter, type Ec2Adapter } from '../adapters/aws/index.js';
import type { LambdaConfig } from './config.js';

/** What a member URL depends on: the ports, and https when TLS is on. */
export type UrlConfig = Pick<LambdaConfig, 'clientPort' | 'peerPort' | 'tls'>;

export interface GroupInstanceView {
  readonly instanceId: string;
  readonly lifecycleState: string;
  readonly privateIp: string | undefined;
  /** EC2's private DNS name of the instance (a SAN of its member certificate); undefined when EC2 gives none. */
  readonly privateDnsName?: string;
  readonly ec2State: string | undefined;
}

export interface GroupView {
  readonly desiredCapacity: number | undefined;
  readonly instances: ReadonlyMap<string, GroupInstanceView>;
}

/** Lifecycle states in which an instance is on its way into service (see the Auto Scaling lifecycle docs). */
export function isLaunching(state: string): boolean {
  return state === 'Pending' || state === 'Pending:Wait' || state === 'Pending:Proceed';
}

/** An instance that serves, or will: in the group, not leaving it, and its machine not going away. */
export function isLive(instance: GroupInstanceView): boolean {
  if (instance.ec2State !== undefined && isGoneState(instance.ec2State)) return false;
  const s = instance.lifecycleState;
  return isLaunching(s) || s === 'InService' || s === 'EnteredStandby' || s === 'Standby';
}

export async function loadGroup(groupName: string, autoScaling: AutoScalingAdapter, ec2: Ec2Adapter): Promise<GroupView> {
  const group = await autoScaling.describeGroup(groupName);
  const ids = group.instances.map((i) => i.instanceId);
  const lookup = ids.length === 0 ? { found: [], gone: [] } : await ec2.describeInstances(ids);
  const byId = new Map(lookup.found.map((i) => [i.instanceId, i]));
  const gone = new Set(lookup.gone);
  const instances = new Map<string, GroupInstanceView>();
  for (const i of group.instances) {
    const found = byId.get(i.instanceId);
    instances.set(i.instanceId, {
      instanceId: i.instanceId,
      lifecycleState: i.lifecycleState,
      privateIp: found?.privateIpAddress,
      ...(found?.privateDnsName !== undefined && { privateDnsName: found.privateDnsName }),
      ec2State: gone.has(i.instanceId) ? 'terminated' : found?.state,
    });
  }
  return { desiredCapacity: group.desiredCapacity, instances };
}

export function liveInstances(group: GroupView): GroupInstanceView[] {
  return [...group.instances.values()].filter(isLive).sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
}

/** Client URLs of every live instance with an address: where to look for the cluster. */
export function candidateEndpoints(group: GroupView, config: UrlConfig): string[] {
  return liveInstances(group)
    .filter((i) => i.privateIp !== undefined)
    .map((i) => clientURL(i.privateIp!, config));
}

/** The host of a member's URL, or undefined when etcd reported one that does not parse. */
export function safeHost(url: string): string | undefined {
  try {
    return hostOf(url);
  } catch {
    return undefined;
  }
}

/** A member's peer URL: https when TLS is on (every member speaks TLS then), http otherwise. */
export function peerURL(ip: string, config: UrlConfig): string {
  return memberURL(ip, config.peerPort, config);
}

/** A member's client URL: https when TLS is on, http otherwise. */
export function clientURL(ip: string, config: UrlConfig): string {
  return memberURL(ip, config.clientPort, config);
}

function memberURL(ip: string, port: number, config: UrlConfig): string {
  return `${config.tls === undefined ? 'http' : 'https'}://${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}

/**
 * Platform knowledge for the planner. A member named after an instance that is not live is gone; an
 * unstarted member whose address belongs to no live instance is gone; one whose instance is still
 * launching is booting. Members with other names (added by hand) are left to the health checks.
 */
export function platformKnowledge(group: GroupView, members: readonly Member[]): PlatformKnowledge {
  const live = liveInstances(group);
  const liveIds = new Set(live.map((i) => i.instanceId));
  const liveIps = new Set(live.flatMap((i) => (i.privateIp === undefined ? [] : [i.privateIp])));
  const launchingIps = new Set(
    live.filter((i) => isLaunching(i.lifecycleState)).flatMap((i) => (i.privateIp === undefined ? [] : [i.privateIp])),
  );
  const goneNames = members.filter((m) => isInstanceId(m.name) && !liveIds.has(m.name)).map((m) => m.name);
  const gonePeerURLs: string[] = [];
  const bootingPeerURLs: string[] = [];
  for (const m of members) {
    for (const url of m.peerURLs) {
      let host: string;
      try {
        host = hostOf(url);
      } catch {
        continue;
      }
      if (launchingIps.has(host)) bootingPeerURLs.push(url);
      else if (isUnstarted(m) && !liveIps.has(host)) gonePeerURLs.push(url);
    }
  }
  return { goneNames, gonePeerURLs, bootingPeerURLs };
}
