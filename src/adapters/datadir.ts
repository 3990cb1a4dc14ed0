// Is this node's etcd data dir fresh, i.e. free of etcd member data?
//
// The original tool called a dir fresh only when it was completely empty, so `lost+found` on a new
// volume made a brand-new node "existing" and etcd then failed as a non-member. Here only member data counts:
//
// - missing dir, empty dir, `lost+found`, dotfiles: fresh.
// - `member/` holding any file at any depth (`member/wal/*.wal`, `member/snap/db`, `*.snap`): NOT fresh.
//   Declaring such a dir fresh is the dangerous mistake: we would add a second member for a node that still
//   has an identity and data.
// - `member/` that is not a directory: NOT fresh (we cannot tell what it is, so we do not touch membership).
// - `member/` holding only empty directories (a first start that died before writing anything): fresh, like
//   etcd itself, which decides by whether WAL files exist; reported in `unexpectedEntries`.
// - anything else (unknown files or dirs): fresh, because etcd keeps its state only under `member/`, but
//   reported in `unexpectedEntries` so the caller can log a warning.
//
// A separate `--wal-dir` is not looked at: etcd's snapshot db still lives in `member/snap`, so a node with data
// is still detected.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export type DataDirErrorCode = 'invalid-path' | 'not-a-directory' | 'unreadable';

export class DataDirError extends Error {
  constructor(
    readonly code: DataDirErrorCode,
    readonly path: string,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DataDirError';
  }
}

export interface DataDirFreshness {
  /** True when the dir holds no etcd member data (the node must join as a new member). */
  readonly fresh: boolean;
  /** False when the path does not exist (fresh; etcd creates it). */
  readonly exists: boolean;
  /** Top-level entries that are neither member data nor known artifacts, worth a warning (sorted). */
  readonly unexpectedEntries: readonly string[];
}

/** The directory etcd keeps all member state in (WAL and snapshots). */
const MEMBER_DIR = 'member';
/** Left by mkfs on ext* volumes; never etcd data. */
const LOST_AND_FOUND = 'lost+found';

/**
 * isDataDirFresh tells whether `path` holds etcd member data: it does when a `member` entry exists with any file
 * below it (or is not a plain directory). A missing path is fresh. `lost+found` and dotfiles are ignored; any
 * other entry, and an empty `member` dir, is listed in `unexpectedEntries` for a warning. Reads only.
 *
 * @throws DataDirError for an empty path, a path that is not a directory, or one that cannot be read.
 */
export async function isDataDirFresh(path: string): Promise<DataDirFreshness> {
  if (path.trim() === '') throw new DataDirError('invalid-path', path, 'the data dir path is empty');

  try {
    const info = await stat(path);
    if (!info.isDirectory()) throw new DataDirError('not-a-directory', path, `data dir ${path} exists but is not a directory`);
  } catch (err) {
    if (err instanceof DataDirError) throw err;
    if (errnoOf(err) === 'ENOENT') return { fresh: true, exists: false, unexpectedEntries: [] };
    throw unreadable(path, err);
  }

  const names = await readdirOrThrow(path);
  const unexpectedEntries: string[] = [];
  let fresh = true;
  for (const name of names.sort()) {
    if (name === LOST_AND_FOUND || name.startsWith('.')) continue;
    if (name === MEMBER_DIR) {
      const memberPath = join(path, MEMBER_DIR);
      if (await holdsMemberData(memberPath)) fresh = false;
      else unexpectedEntries.push(`${MEMBER_DIR}/ (no WAL or snapshot files)`);
      continue;
    }
    unexpectedEntries.push(name);
  }
  return { fresh, exists: true, unexpectedEntries };
}

/** True when `member` is not a directory, or any file exists anywhere below it. */
async function holdsMemberData(memberPath: string): Promise<boolean> {
  let info;
  try {
    info = await stat(memberPath);
  } catch (err) {
    // A dangling symlink named `member` is still something etcd would trip over: not fresh.
    if (errnoOf(err) === 'ENOENT') return true;
    throw unreadable(memberPath, err);
  }
  if (!info.isDirectory()) return true;
  let entries;
  try {
    entries = await readdir(memberPath, { recursive: true, withFileTypes: true });
  } catch (err) {
    throw unreadable(memberPath, err);
  }
  return entries.some((entry) => !entry.isDirectory());
}

async function readdirOrThrow(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    throw unreadable(path, err);
  }
}

function unreadable(path: string, err: unknown): DataDirError {
  const reason = err instanceof Error ? err.message : String(err);
  const code = errnoOf(err) === 'ENOTDIR' ? 'not-a-directory' : 'unreadable';
  return new DataDirError(code, path, `cannot read data dir ${path}: ${reason}`, { cause: err });
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}
