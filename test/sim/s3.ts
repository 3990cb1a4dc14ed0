// A simulated S3 for the operations the backup store uses, path-style, as the real `@aws-sdk/client-s3` speaks
// them: PutObject, CopyObject, CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload, GetObject,
// HeadObject, DeleteObject, ListObjectsV2 (prefix, max-keys, continuation), ListMultipartUploads. What AWS documents
// and the product relies on is reproduced: an object exists only once PutObject or CompleteMultipartUpload
// returned (never half-written), every part but the last must be at least 5 MiB (EntityTooSmall), an aborted or
// never completed upload leaves no object, versioned buckets keep every version (a PUT adds one), ListObjectsV2
// sorts keys in UTF-8 binary order, CopyObject copies the source's current version (or the one `?versionId=`
// names) server-side with its metadata (unless REPLACE), at most 5 GiB in one request. The SDK's aws-chunked bodies (flexible checksums) are decoded. Signatures are
// not checked.
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** The largest object one CopyObject may copy (larger ones need UploadPartCopy). */
export const MAX_COPY_BYTES = 5 * 1024 * 1024 * 1024;

export interface SimObject {
  readonly key: string;
  readonly body: Buffer;
  readonly etag: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly lastModified: Date;
  readonly versionId: string;
}

interface Upload {
  readonly key: string;
  readonly metadata: Record<string, string>;
  readonly parts: Map<number, { body: Buffer; etag: string }>;
}

interface Bucket {
  readonly versions: Map<string, SimObject[]>;
  readonly uploads: Map<string, Upload>;
}

export interface S3Call {
  readonly operation: string;
  readonly bucket: string;
  readonly key: string;
  readonly error?: string;
}

class S3Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export class SimulatedS3 {
  private readonly buckets = new Map<string, Bucket>();
  private readonly faults = new Map<string, number>();
  readonly calls: S3Call[] = [];

  constructor(private readonly clock: () => Date = () => new Date()) {}

  createBucket(name: string): void {
    if (!this.buckets.has(name)) this.buckets.set(name, { versions: new Map(), uploads: new Map() });
  }

  /** The current version of an object (tests flip bytes through `putRaw`). */
  object(bucket: string, key: string): SimObject | undefined {
    return this.buckets.get(bucket)?.versions.get(key)?.at(-1);
  }

  keys(bucket: string): string[] {
    return [...(this.buckets.get(bucket)?.versions.keys() ?? [])].sort();
  }

  /** Multipart uploads started and neither completed nor aborted. */
  pendingUploads(bucket: string): string[] {
    return [...(this.buckets.get(bucket)?.uploads.values() ?? [])].map((u) => u.key);
  }

  /** Stores bytes directly (a test's way to damage or forge an object). */
  putRaw(bucket: string, key: string, body: Buffer, metadata: Record<string, string> = {}): void {
    this.store(this.bucket(bucket), key, body, metadata);
  }

  /** The next `times` calls of `operation` (e.g. "UploadPart") answer InternalError (500). */
  failNext(operation: string, times = 1): void {
    this.faults.set(operation, (this.faults.get(operation) ?? 0) + times);
  }

  /** Serves one request; `path` is /<bucket>[/<key>] (path-style). */
  async handle(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    const [, bucketName = '', ...rest] = path.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const method = req.method ?? 'GET';
    const operation = operationOf(method, key, query, req.headers);
    try {
      const bucket = this.buckets.get(bucketName);
      if (bucket === undefined) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', 404);
      const remaining = this.faults.get(operation) ?? 0;
      if (remaining > 0) {
        this.faults.set(operation, remaining - 1);
        await drain(req);
        throw new S3Error('InternalError', 'We encountered an internal error. Please try again.', 500);
      }
      await this.dispatch(operation, bucket, bucketName, key, query, req, res);
      this.calls.push({ operation, bucket: bucketName, key });
    } catch (err) {
      const e = err instanceof S3Error ? err : new S3Error('InternalError', String(err), 500);
      this.calls.push({ operation, bucket: bucketName, key, error: e.code });
      if (!res.headersSent) {
        const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${esc(e.code)}</Code><Message>${esc(e.message)}</Message><Key>${esc(key)}</Key><RequestId>${randomUUID()}</RequestId></Error>`;
        res.writeHead(e.status, { 'content-type': 'application/xml', 'x-amz-request-id': randomUUID() });
        res.end(method === 'HEAD' ? undefined : xml);
      } else {
        res.destroy();
      }
    }
  }

  private async dispatch(
    operation: string,
    bucket: Bucket,
    bucketName: string,
    key: string,
    query: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    switch (operation) {
      case 'PutObject': {
        const body = await readPayload(req);
        const object = this.store(bucket, key, body, metadataOf(req));
        res.writeHead(200, { etag: object.etag, 'x-amz-version-id': object.versionId }).end();
        return;
      }
      case 'CopyObject': {
        await drain(req);
        const source = parseCopySource(String(req.headers['x-amz-copy-source']));
        const from = this.buckets.get(source.bucket);
        if (from === undefined) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', 404);
        const versions = from.versions.get(source.key) ?? [];
        const object = source.versionId === undefined ? versions.at(-1) : versions.find((v) => v.versionId === source.versionId);
        if (object === undefined) {
          if (source.versionId !== undefined) throw new S3Error('NoSuchVersion', 'The specified version does not exist.', 404);
          throw new S3Error('NoSuchKey', 'The specified key does not exist.', 404);
        }
        if (object.body.length > MAX_COPY_BYTES)
          throw new S3Error(
            'InvalidRequest',
            'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120',
            400,
          );
        const replace = String(req.headers['x-amz-metadata-directive'] ?? 'COPY').toUpperCase() === 'REPLACE';
        const copy = this.store(bucket, key, object.body, replace ? metadataOf(req) : { ...object.metadata }, object.etag);
        sendXml(
          res,
          `<CopyObjectResult><ETag>${esc(copy.etag)}</ETag><LastModified>${copy.lastModified.toISOString()}</LastModified></CopyObjectResult>`,
          { 'x-amz-version-id': copy.versionId, 'x-amz-copy-source-version-id': object.versionId },
        );
        return;
      }
      case 'CreateMultipartUpload': {
        await drain(req);
        const uploadId = randomUUID();
        bucket.uploads.set(uploadId, { key, metadata: metadataOf(req), parts: new Map() });
        sendXml(
          res,
          `<InitiateMultipartUploadResult><Bucket>${esc(bucketName)}</Bucket><Key>${esc(key)}</Key><UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`,
        );
        return;
      }
      case 'UploadPart': {
        const upload = this.upload(bucket, query);
        const number = Number(query.get('partNumber'));
        if (!Number.isInteger(number) || number < 1 || number > 10_000)
          throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000', 400);
        const body = await readPayload(req);
        const etag = `"${createHash('md5').update(body).digest('hex')}"`;
        upload.parts.set(number, { body, etag });
        res.writeHead(200, { etag }).end();
        return;
      }
      case 'CompleteMultipartUpload': {
        const upload = this.upload(bucket, query);
        const listed = [...(await readPayload(req)).toString('utf8').matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map((m) => Number(m[1]));
        if (listed.length === 0) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed', 400);
        const parts = listed.map((n, i) => {
          const part = upload.parts.get(n);
          if (part === undefined) throw new S3Error('InvalidPart', `part ${n} was not uploaded`, 400);
          if (i > 0 && n <= listed[i - 1]!) throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order', 400);
          if (i < listed.length - 1 && part.body.length < MIN_PART_BYTES)
            throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size', 400);
          return part;
        });
        bucket.uploads.delete(query.get('uploadId')!);
        const object = this.store(
          bucket,
          key,
          Buffer.concat(parts.map((p) => p.body)),
          upload.metadata,
          `"${createHash('md5')
            .update(parts.map((p) => p.etag).join(''))
            .digest('hex')}-${parts.length}"`,
        );
        sendXml(
          res,
          `<CompleteMultipartUploadResult><Bucket>${esc(bucketName)}</Bucket><Key>${esc(key)}</Key><ETag>${esc(object.etag)}</ETag></CompleteMultipartUploadResult>`,
          { 'x-amz-version-id': object.versionId },
        );
        return;
      }
      case 'AbortMultipartUpload': {
        await drain(req);
        if (!bucket.uploads.delete(query.get('uploadId') ?? ''))
          throw new S3Error('NoSuchUpload', 'The specified upload does not exist', 404);
        res.writeHead(204).end();
        return;
      }
      case 'ListMultipartUploads': {
        await drain(req);
        const items = [...bucket.uploads.entries()]
          .map(([id, u]) => `<Upload><Key>${esc(u.key)}</Key><UploadId>${id}</UploadId></Upload>`)
          .join('');
        sendXml(
          res,
          `<ListMultipartUploadsResult><Bucket>${esc(bucketName)}</Bucket>${items}<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>`,
        );
        return;
      }
      case 'GetObject':
      case 'HeadObject': {
        await drain(req);
        const object = bucket.versions.get(key)?.at(-1);
        if (object === undefined)
          throw new S3Error(operation === 'HeadObject' ? 'NotFound' : 'NoSuchKey', 'The specified key does not exist.', 404);
        const headers: Record<string, string> = {
          'content-length': String(object.body.length),
          'content-type': 'application/octet-stream',
          etag: object.etag,
          'last-modified': object.lastModified.toUTCString(),
          'x-amz-version-id': object.versionId,
          ...Object.fromEntries(Object.entries(object.metadata).map(([k, v]) => [`x-amz-meta-${k}`, v])),
        };
        res.writeHead(200, headers);
        res.end(operation === 'GetObject' ? object.body : undefined);
        return;
      }
      case 'DeleteObject': {
        await drain(req);
        bucket.versions.delete(key); // a delete marker in a versioned bucket: the key is no longer listed
        res.writeHead(204).end();
        return;
      }
      case 'ListObjectsV2': {
        await drain(req);
        const prefix = query.get('prefix') ?? '';
        const max = Math.min(1000, Number(query.get('max-keys') ?? '1000'));
        const after = query.get('continuation-token') ?? query.get('start-after') ?? '';
        const all = [...bucket.versions.keys()]
          .filter((k) => k.startsWith(prefix) && k > after)
          .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        const page = all.slice(0, max);
        const truncated = all.length > page.length;
        const contents = page
          .map((k) => {
            const o = bucket.versions.get(k)!.at(-1)!;
            return `<Contents><Key>${esc(k)}</Key><LastModified>${o.lastModified.toISOString()}</LastModified><ETag>${esc(o.etag)}</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
          })
          .join('');
        const next = truncated ? `<NextContinuationToken>${esc(page.at(-1)!)}</NextContinuationToken>` : '';
        sendXml(
          res,
          `<ListBucketResult><Name>${esc(bucketName)}</Name><Prefix>${esc(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${max}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${contents}${next}</ListBucketResult>`,
        );
        return;
      }
      default:
        await drain(req);
        throw new S3Error('NotImplemented', `the simulated S3 does not implement ${operation}`, 501);
    }
  }

  private bucket(name: string): Bucket {
    const bucket = this.buckets.get(name);
    if (bucket === undefined) throw new Error(`no bucket ${name}`);
    return bucket;
  }

  private upload(bucket: Bucket, query: URLSearchParams): Upload {
    const upload = bucket.uploads.get(query.get('uploadId') ?? '');
    if (upload === undefined) throw new S3Error('NoSuchUpload', 'The specified upload does not exist', 404);
    return upload;
  }

  private store(bucket: Bucket, key: string, body: Buffer, metadata: Record<string, string>, etag?: string): SimObject {
    const object: SimObject = {
      key,
      body,
      etag: etag ?? `"${createHash('md5').update(body).digest('hex')}"`,
      metadata,
      lastModified: this.clock(),
      versionId: randomUUID().replaceAll('-', ''),
    };
    bucket.versions.set(key, [...(bucket.versions.get(key) ?? []), object]);
    return object;
  }
}

function operationOf(method: string, key: string, query: URLSearchParams, headers: IncomingMessage['headers']): string {
  if (key === '') {
    if (method === 'GET' && query.has('uploads')) return 'ListMultipartUploads';
    if (method === 'GET') return 'ListObjectsV2';
    return `${method} bucket`;
  }
  if (method === 'POST' && query.has('uploads')) return 'CreateMultipartUpload';
  if (method === 'POST' && query.has('uploadId')) return 'CompleteMultipartUpload';
  if (method === 'PUT' && query.has('uploadId')) return 'UploadPart';
  if (method === 'DELETE' && query.has('uploadId')) return 'AbortMultipartUpload';
  if (method === 'PUT' && headers['x-amz-copy-source'] !== undefined) return 'CopyObject';
  if (method === 'PUT') return 'PutObject';
  if (method === 'GET') return 'GetObject';
  if (method === 'HEAD') return 'HeadObject';
  if (method === 'DELETE') return 'DeleteObject';
  return method;
}

function metadataOf(req: IncomingMessage): Record<string, string> {
  return Object.fromEntries(
    Object.entries(req.headers)
      .filter(([k, v]) => k.startsWith('x-amz-meta-') && typeof v === 'string')
      .map(([k, v]) => [k.slice('x-amz-meta-'.length), v as string]),
  );
}

async function drain(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The request's payload, with the SDK's aws-chunked encoding (`<hex size>\r\n<data>\r\n ... 0\r\n<trailers>`) removed. */
async function readPayload(req: IncomingMessage): Promise<Buffer> {
  const raw = await drain(req);
  const encoding = String(req.headers['content-encoding'] ?? '');
  const sha = String(req.headers['x-amz-content-sha256'] ?? '');
  if (!encoding.includes('aws-chunked') && !sha.startsWith('STREAMING-')) return raw;
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) throw new S3Error('IncompleteBody', 'the aws-chunked body ended early', 400);
    const size = parseInt(raw.subarray(at, eol).toString('latin1').split(';')[0]!, 16);
    if (!Number.isFinite(size)) throw new S3Error('InvalidRequest', 'bad aws-chunked size', 400);
    if (size === 0) break;
    out.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  const body = Buffer.concat(out);
  const declared = req.headers['x-amz-decoded-content-length'];
  if (declared !== undefined && Number(declared) !== body.length)
    throw new S3Error('IncompleteBody', 'the body is shorter than x-amz-decoded-content-length', 400);
  return body;
}

function sendXml(res: ServerResponse, xml: string, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'application/xml', ...headers }).end(`<?xml version="1.0" encoding="UTF-8"?>${xml}`);
}

function esc(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

/** `x-amz-copy-source`: `[/]bucket/key[?versionId=id]`, the key URL-encoded. */
function parseCopySource(header: string): { bucket: string; key: string; versionId?: string } {
  const [path = '', query = ''] = header.split('?', 2);
  const [bucket = '', ...rest] = path.replace(/^\//, '').split('/');
  const key = decodeURIComponent(rest.join('/'));
  if (bucket === '' || key === '')
    throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', 400);
  const versionId = new URLSearchParams(query).get('versionId') ?? undefined;
  return { bucket, key, ...(versionId !== undefined && { versionId }) };
}
