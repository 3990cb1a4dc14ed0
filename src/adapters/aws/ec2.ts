// EC2: what the instances behind the group's members look like (private IP, state, launch time).
import { paginateDescribeInstances } from '@aws-sdk/client-ec2';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { awsErrorCode, MalformedAwsResponseError, rethrowAws } from './errors.js';
import { isInstanceId, validateInstanceId } from './identifiers.js';

export interface Ec2Instance {
  readonly instanceId: string;
  readonly privateIpAddress: string | undefined;
  /** The private DNS name EC2 gives the primary address (e.g. ip-10-0-0-1.ec2.internal); undefined or '' when none. */
  readonly privateDnsName?: string;
  /** pending | running | shutting-down | terminated | stopping | stopped */
  readonly state: string;
  readonly launchTime: Date | undefined;
}

export interface Ec2Lookup {
  readonly found: readonly Ec2Instance[];
  /** IDs EC2 does not know (InvalidInstanceID.NotFound): gone for good, or never existed. */
  readonly gone: readonly string[];
}

/** EC2 states after which the machine will never serve again. */
export function isGoneState(state: string): boolean {
  return state === 'shutting-down' || state === 'terminated';
}

// EC2 accepts long ID lists, but smaller batches keep one unknown ID from costing a huge retry.
const BATCH_SIZE = 100;

export class Ec2Adapter {
  constructor(private readonly client: EC2Client) {}

  async describeInstances(instanceIds: readonly string[]): Promise<Ec2Lookup> {
    const ids = [...new Set(instanceIds.map(validateInstanceId))];
    const found: Ec2Instance[] = [];
    const gone: string[] = [];
    for (let i = 0; i < ids.length; i += BATCH_SIZE) {
      const result = await this.describeBatch(ids.slice(i, i + BATCH_SIZE));
      found.push(...result.found);
      gone.push(...result.gone);
    }
    return { found, gone };
  }

  /**
   * One DescribeInstances for a batch. A single unknown ID fails the whole call with
   * InvalidInstanceID.NotFound, naming the unknown IDs in its message: drop those and ask again. If the
   * message names none of ours, fall back to asking for each ID alone.
   */
  private async describeBatch(batch: readonly string[]): Promise<Ec2Lookup> {
    try {
      return { found: await this.describeOnce(batch), gone: [] };
    } catch (err) {
      if (awsErrorCode(err) !== 'InvalidInstanceID.NotFound') rethrowAws('DescribeInstances', err);
      if (batch.length === 1) return { found: [], gone: [...batch] };
      const named = namedInstanceIds(err).filter((id) => batch.includes(id));
      if (named.length === 0) {
        const found: Ec2Instance[] = [];
        const gone: string[] = [];
        for (const id of batch) {
          const single = await this.describeBatch([id]);
          found.push(...single.found);
          gone.push(...single.gone);
        }
        return { found, gone };
      }
      const rest = await this.describeBatch(batch.filter((id) => !named.includes(id)));
      return { found: rest.found, gone: [...named, ...rest.gone] };
    }
  }

  private async describeOnce(batch: readonly string[]): Promise<Ec2Instance[]> {
    if (batch.length === 0) return [];
    const result: Ec2Instance[] = [];
    for await (const page of paginateDescribeInstances({ client: this.client }, { InstanceIds: [...batch] })) {
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          if (instance.InstanceId === undefined || instance.State?.Name === undefined) {
            throw new MalformedAwsResponseError('DescribeInstances', 'an instance without InstanceId or State');
          }
          result.push({
            instanceId: instance.InstanceId,
            privateIpAddress: instance.PrivateIpAddress,
            ...(instance.PrivateDnsName !== undefined && instance.PrivateDnsName !== '' && { privateDnsName: instance.PrivateDnsName }),
            state: instance.State.Name,
            launchTime: instance.LaunchTime,
          });
        }
      }
    }
    return result;
  }
}

/** "The instance IDs 'i-1, i-2' do not exist" -> ['i-1', 'i-2']. */
function namedInstanceIds(err: unknown): string[] {
  const message = err instanceof Error ? err.message : '';
  return (message.match(/i-[0-9a-f]+/g) ?? []).filter(isInstanceId);
}
