// The parameter namespace `<prefix>/<cluster>` belongs to one Auto Scaling group: the first group's Lambda to
// act records itself there, create-only, and a second group configured with the same namespace refuses to act
// rather than overwrite or delete the first one's parameters (e.g. two stacks deployed with one cluster name).
import * as z from '../adapters/zod.js';
import { GroupNotFoundError } from '../adapters/aws/index.js';
import type { LifecycleDeps } from './deps.js';

const ownerRecordSchema = z.object({ version: z.literal(1), group: z.string().check(z.minLength(1)), createdAt: z.string() });

export type NamespaceClaim =
  | { readonly kind: 'ours'; readonly how: 'unclaimed' | 'created' | 'existing' | 'taken-over'; readonly previousOwner?: string }
  | { readonly kind: 'foreign'; readonly owner: string | undefined; readonly reason: string };

/**
 * Whether this function's group may act on the namespace, without writing unless it must: the record is read;
 * absent or naming this group, the answer is "ours" (a write claims it later, see claimNamespace); naming a
 * group that no longer exists (its stack was deleted, the parameter stayed), the record is taken over, as
 * nobody else can act on it any more; naming another live group, or unreadable, the answer is "foreign".
 */
export async function checkNamespace(deps: LifecycleDeps): Promise<NamespaceClaim> {
  const raw = await deps.parameters.get(deps.parameters.ownerName());
  return raw === undefined ? { kind: 'ours', how: 'unclaimed' } : judge(raw, deps);
}

/** Records this group as the namespace's owner (create-only) before its first write; see checkNamespace. */
export async function claimNamespace(deps: LifecycleDeps): Promise<NamespaceClaim> {
  const written = await deps.parameters.createOnly(deps.parameters.ownerName(), ownerRecord(deps));
  return written.created ? { kind: 'ours', how: 'created' } : judge(written.value, deps);
}

/** claimNamespace, throwing when another group owns the namespace (it took it since the check). */
export async function requireNamespace(deps: LifecycleDeps): Promise<void> {
  const claim = await claimNamespace(deps);
  if (claim.kind === 'foreign') throw new NamespaceOwnedError(claim.reason);
}

export class NamespaceOwnedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NamespaceOwnedError';
  }
}

async function judge(raw: string, deps: LifecycleDeps): Promise<NamespaceClaim> {
  const { parameters, config } = deps;
  const name = parameters.ownerName();
  const owner = parseOwner(raw);
  if (owner === config.autoScalingGroup) return { kind: 'ours', how: 'existing' };
  if (owner === undefined) {
    return {
      kind: 'foreign',
      owner,
      reason: `the owner record ${name} is malformed; fix it (it must name this group, ${config.autoScalingGroup}) or delete it`,
    };
  }
  try {
    await deps.autoScaling.describeGroup(owner);
  } catch (err) {
    if (!(err instanceof GroupNotFoundError)) throw err;
    await parameters.put(name, ownerRecord(deps));
    return { kind: 'ours', how: 'taken-over', previousOwner: owner };
  }
  return {
    kind: 'foreign',
    owner,
    reason: `the parameter namespace ${parameters.root} belongs to Auto Scaling group ${owner}, not to ${config.autoScalingGroup}; give this deployment its own cluster name or parameter prefix`,
  };
}

function ownerRecord(deps: LifecycleDeps): string {
  return JSON.stringify({ version: 1, group: deps.config.autoScalingGroup, createdAt: new Date().toISOString() });
}

function parseOwner(raw: string): string | undefined {
  try {
    const parsed = ownerRecordSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data.group : undefined;
  } catch {
    return undefined;
  }
}
