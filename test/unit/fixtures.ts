// Small builders for planner tests: members with realistic (above 2^53) IDs, observations and options.
import type { BootstrapSource, ClusterSize, Health, Member, Observation, PlanOptions, PlatformKnowledge } from '../../src/core/types.js';

/** Real etcd member IDs are random uint64s, nearly always above 2^53. */
export const BASE_ID = 14177956833228962000n;

export function peer(n: number): string {
  return `http://10.0.0.${n}:2380`;
}

export function member(n: number, opts: Partial<Member> = {}): Member {
  return {
    id: BASE_ID + BigInt(n),
    name: `n${n}`,
    peerURLs: [peer(n)],
    clientURLs: [`http://10.0.0.${n}:2379`],
    isLearner: false,
    ...opts,
  };
}

export function unstarted(n: number, opts: Partial<Member> = {}): Member {
  return member(n, { name: '', clientURLs: [], ...opts });
}

export interface ClusterSpec {
  members: Member[];
  /** Health by member number (id - BASE_ID); members not listed are healthy. */
  health?: Record<number, Health>;
}

export function observe(
  spec: ClusterSpec | 'unreachable',
  opts: {
    self?: { name: string; peerURLs: string[] };
    fresh?: boolean;
    size?: ClusterSize;
    bootstrap?: BootstrapSource;
    platform?: PlatformKnowledge;
  } = {},
): Observation {
  const self = opts.self ?? { name: 'n9', peerURLs: [peer(9)] };
  const cluster =
    spec === 'unreachable'
      ? ({ kind: 'unreachable' } as const)
      : {
          kind: 'reachable' as const,
          members: spec.members,
          health: new Map(spec.members.map((m) => [m.id, spec.health?.[Number(m.id - BASE_ID)] ?? 'healthy'])),
        };
  return {
    self,
    dataDirFresh: opts.fresh ?? true,
    targetSize: opts.size ?? 3,
    cluster,
    bootstrap: opts.bootstrap ?? { kind: 'none' },
    ...(opts.platform === undefined ? {} : { platform: opts.platform }),
  };
}

export function options(strategy: PlanOptions['strategy'], extra: Partial<PlanOptions> = {}): PlanOptions {
  return { strategy, joinAs: 'learner', ...extra };
}
