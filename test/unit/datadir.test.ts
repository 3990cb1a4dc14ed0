import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DataDirError, isDataDirFresh } from '../../src/adapters/datadir.js';

describe('isDataDirFresh', () => {
  let root: string;
  let counter = 0;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'datadir-test-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  /** A new empty dir per test, with the given files (paths ending in '/' are dirs). */
  async function dataDir(entries: readonly string[] = []): Promise<string> {
    const dir = join(root, `d${counter++}`);
    await mkdir(dir);
    for (const entry of entries) {
      if (entry.endsWith('/')) await mkdir(join(dir, entry), { recursive: true });
      else {
        await mkdir(join(dir, entry, '..'), { recursive: true });
        await writeFile(join(dir, entry), 'x');
      }
    }
    return dir;
  }

  test('a missing dir is fresh and reported as not existing', async () => {
    assert.deepEqual(await isDataDirFresh(join(root, 'does-not-exist')), { fresh: true, exists: false, unexpectedEntries: [] });
  });

  test('an empty dir is fresh', async () => {
    assert.deepEqual(await isDataDirFresh(await dataDir()), { fresh: true, exists: true, unexpectedEntries: [] });
  });

  test('lost+found (empty or not) and dotfiles are filesystem artifacts: fresh, no warning (B13)', async () => {
    const dir = await dataDir(['lost+found/', 'lost+found/#1234', '.keep', '.cache/x']);
    assert.deepEqual(await isDataDirFresh(dir), { fresh: true, exists: true, unexpectedEntries: [] });
  });

  test('a WAL file under member/wal means member data: not fresh', async () => {
    const dir = await dataDir(['member/wal/0000000000000000-0000000000000000.wal', 'member/snap/']);
    assert.deepEqual(await isDataDirFresh(dir), { fresh: false, exists: true, unexpectedEntries: [] });
  });

  test('a snapshot db under member/snap means member data: not fresh', async () => {
    const dir = await dataDir(['member/snap/db', 'lost+found/']);
    assert.equal((await isDataDirFresh(dir)).fresh, false);
  });

  test('member that is a file, not a dir, is not fresh (unknown state, do not touch membership)', async () => {
    const dir = await dataDir(['member']);
    assert.equal((await isDataDirFresh(dir)).fresh, false);
  });

  test('a dangling member symlink is not fresh', async () => {
    const dir = await dataDir();
    await symlink(join(dir, 'nowhere'), join(dir, 'member'));
    assert.equal((await isDataDirFresh(dir)).fresh, false);
  });

  test('member/ with only empty dirs (first start died early) is fresh, with a warning', async () => {
    const dir = await dataDir(['member/wal/', 'member/snap/']);
    assert.deepEqual(await isDataDirFresh(dir), { fresh: true, exists: true, unexpectedEntries: ['member/ (no WAL or snapshot files)'] });
  });

  test('unknown content without member/ is fresh but listed for a warning, sorted', async () => {
    const dir = await dataDir(['notes.txt', 'backup/', 'lost+found/']);
    assert.deepEqual(await isDataDirFresh(dir), { fresh: true, exists: true, unexpectedEntries: ['backup', 'notes.txt'] });
  });

  test('unknown content next to member data is still not fresh', async () => {
    const dir = await dataDir(['notes.txt', 'member/wal/0.wal']);
    assert.deepEqual(await isDataDirFresh(dir), { fresh: false, exists: true, unexpectedEntries: ['notes.txt'] });
  });

  test('a path that is a file is a typed not-a-directory error', async () => {
    const file = join(await dataDir(['f']), 'f');
    await assert.rejects(isDataDirFresh(file), (err: unknown) => {
      assert.ok(err instanceof DataDirError);
      assert.equal(err.code, 'not-a-directory');
      assert.equal(err.path, file);
      assert.match(err.message, /not a directory/);
      return true;
    });
  });

  test('a path below a file is a typed not-a-directory error', async () => {
    const file = join(await dataDir(['f']), 'f');
    await assert.rejects(
      isDataDirFresh(join(file, 'sub')),
      (err: unknown) => err instanceof DataDirError && err.code === 'not-a-directory',
    );
  });

  test('an empty path is a typed invalid-path error', async () => {
    await assert.rejects(isDataDirFresh(' '), (err: unknown) => err instanceof DataDirError && err.code === 'invalid-path');
  });

  test('a path the OS cannot look up (name too long) is a typed unreadable error, not a crash', async () => {
    const tooLong = join(root, 'x'.repeat(300));
    await assert.rejects(
      isDataDirFresh(tooLong),
      (err: unknown) => err instanceof DataDirError && err.code === 'unreadable' && err.message.includes('ENAMETOOLONG'),
    );
  });

  test('an unreadable dir is a typed unreadable error', { skip: process.getuid?.() === 0 ? 'root reads everything' : false }, async () => {
    const dir = await dataDir(['member/wal/0.wal']);
    await chmod(dir, 0o000);
    try {
      await assert.rejects(
        isDataDirFresh(dir),
        (err: unknown) => err instanceof DataDirError && err.code === 'unreadable' && /cannot read data dir/.test(err.message),
      );
    } finally {
      await chmod(dir, 0o755);
    }
  });
});
