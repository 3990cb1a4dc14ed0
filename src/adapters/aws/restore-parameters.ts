// The two restore values kept in Parameter Store, shared by their writers and readers:
//   - the restore request (`<ns>/restore-request`): written by an operator (`elastic-etcd restore`), read and
//     consumed by the Lambda once no instance of the lost cluster can come back;
//   - an instance's restore (`<ns>/instances/<id>/restore`): written by the Lambda BEFORE that instance's drop-in,
//     read by the boot script once the drop-in arrived: it downloads the snapshot, checks size and SHA-256, and
//     restores it with the drop-in's name, initial cluster and token before etcd starts.
// The boot script parses the instance restore with python3's json module: keep its fields flat strings/numbers.
import * as z from '../zod.js';

export const restoreRequestSchema = z.object({
  format: z.literal(1),
  /** 'latest' (the newest snapshot that verifies) or one snapshot's S3 key. */
  from: z.string().check(z.minLength(1), z.maxLength(1024)),
  requestedAt: z.string().check(z.minLength(1)),
  /** Who asked (the operator's AWS identity or a free text), for the log. */
  requestedBy: z.optional(z.string().check(z.maxLength(512))),
});
export type RestoreRequest = z.infer<typeof restoreRequestSchema>;

export const instanceRestoreSchema = z.object({
  format: z.literal(1),
  bucket: z.string().check(z.minLength(3), z.maxLength(63)),
  key: z.string().check(z.minLength(1), z.maxLength(1024)),
  sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
  size: z.number().check(z.int(), z.positive()),
  /** The snapshot's revision: what the restored cluster starts from. */
  revision: z.string().check(z.regex(/^[0-9]+$/)),
});
export type InstanceRestore = z.infer<typeof instanceRestoreSchema>;

export class MalformedRestoreValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedRestoreValueError';
  }
}

/** Parses a stored value against its schema; the error names the parameter and the first problem. */
export function parseRestoreValue<T>(schema: z.ZodMiniType<T>, raw: string, where: string): T {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new MalformedRestoreValueError(`${where} is not JSON; fix or delete it`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
    throw new MalformedRestoreValueError(`${where} is malformed${path} (${issue?.message ?? 'invalid'}); fix or delete it`);
  }
  return parsed.data;
}
