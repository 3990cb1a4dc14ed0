// Typed errors of the AWS adapters. Conditions a caller must act on (a group that does not exist, a call
// that failed after the SDK's retries) get their own class; expected "already done" answers
// (ParameterNotFound on delete, no active lifecycle action) are not errors at all but return values.
import { errorMessage } from '../../core/errors.js';

/** An AWS call failed after the SDK's own retries. `code` is the AWS error code when there is one. */
export class AwsCallError extends Error {
  constructor(
    readonly operation: string,
    readonly code: string | undefined,
    /** True for throttling and other errors the SDK classifies as transient: retrying later may work. */
    readonly transient: boolean,
    cause: unknown,
  ) {
    super(`${operation} failed${code === undefined ? '' : ` (${code})`}: ${errorMessage(cause)}`, { cause });
    this.name = 'AwsCallError';
  }
}

export class GroupNotFoundError extends Error {
  constructor(readonly groupName: string) {
    super(`Auto Scaling group ${JSON.stringify(groupName)} does not exist`);
    this.name = 'GroupNotFoundError';
  }
}

/** AWS answered, but without a field we rely on (e.g. an instance without an ID). */
export class MalformedAwsResponseError extends Error {
  constructor(
    readonly operation: string,
    detail: string,
  ) {
    super(`${operation} answered something unexpected: ${detail}`);
    this.name = 'MalformedAwsResponseError';
  }
}

/** The error code of an SDK error: smithy sets `name` to the AWS code (e.g. "ValidationError"). */
export function awsErrorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { name, Code } = err as { name?: unknown; Code?: unknown };
  if (typeof Code === 'string' && Code !== '') return Code;
  return typeof name === 'string' && name !== '' && name !== 'Error' ? name : undefined;
}

const TRANSIENT_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'TooManyUpdates',
  'RequestThrottled',
  'RequestThrottledException',
  'ServiceUnavailable',
  'InternalFailure',
  'InternalError',
  'TimeoutError',
]);

/** Rethrows the adapters' own typed errors unchanged and wraps every other error as an AwsCallError. */
export function rethrowAws(operation: string, err: unknown): never {
  if (err instanceof MalformedAwsResponseError || err instanceof GroupNotFoundError || err instanceof AwsCallError) throw err;
  throw toAwsCallError(operation, err);
}

/** Wraps an SDK error that the adapter does not handle itself. */
export function toAwsCallError(operation: string, err: unknown): AwsCallError {
  if (err instanceof AwsCallError) return err;
  const code = awsErrorCode(err);
  const meta = (err as { $retryable?: unknown; $metadata?: { httpStatusCode?: number } } | null) ?? {};
  const status = meta.$metadata?.httpStatusCode;
  const transient =
    (code !== undefined && TRANSIENT_CODES.has(code)) ||
    meta.$retryable !== undefined ||
    (status !== undefined && status >= 500) ||
    isNetworkError(err);
  return new AwsCallError(operation, code, transient, err);
}

function isNetworkError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code);
}
