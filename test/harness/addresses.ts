// Loopback address allocation for real etcd processes, shared by test files running in parallel.
//
// Every member gets its own 127.x.y.z address with etcd's standard ports, exactly as on EC2. Test files
// run in separate processes, so an address is claimed with an exclusive lock file in the temp dir; a lock
// whose owner process is gone is reclaimed. Before handing an address out we also check that nothing is
// listening on the standard ports there (a leftover process from an earlier crash).
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCK_DIR = join(tmpdir(), 'elastic-etcd-test-addresses');
/** Addresses the harness uses: 127.0.<block>.<host>, blocks 10-250, hosts 10-250. */
const FIRST_BLOCK = 10;
const LAST_BLOCK = 250;
const FIRST_HOST = 10;
const LAST_HOST = 250;

export const CLIENT_PORT = 2379;
export const PEER_PORT = 2380;

const held = new Set<string>();

function lockPath(ip: string): string {
  return join(LOCK_DIR, `${ip}.lock`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryLock(ip: string): boolean {
  mkdirSync(LOCK_DIR, { recursive: true });
  const path = lockPath(ip);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = NaN;
      try {
        owner = Number(readFileSync(path, 'utf8'));
      } catch {
        continue; // removed meanwhile: try again
      }
      if (Number.isInteger(owner) && owner > 0 && processAlive(owner)) return false;
      rmSync(path, { force: true }); // stale lock of a dead process
    }
  }
  return false;
}

async function portFree(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: ip, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Claims `count` loopback addresses whose standard etcd ports are free. Addresses are released by
 * `releaseAddresses` or, at the latest, when this process exits.
 */
export async function allocateAddresses(count: number): Promise<string[]> {
  const result: string[] = [];
  // Start at a block derived from the pid so parallel files rarely contend for the same locks.
  const blocks = LAST_BLOCK - FIRST_BLOCK + 1;
  const startBlock = FIRST_BLOCK + (process.pid % blocks);
  for (let b = 0; b < blocks && result.length < count; b++) {
    const block = FIRST_BLOCK + ((startBlock - FIRST_BLOCK + b) % blocks);
    for (let host = FIRST_HOST; host <= LAST_HOST && result.length < count; host++) {
      const ip = `127.0.${block}.${host}`;
      if (held.has(ip) || !tryLock(ip)) continue;
      if ((await portFree(ip, CLIENT_PORT)) && (await portFree(ip, PEER_PORT))) {
        held.add(ip);
        result.push(ip);
      } else {
        rmSync(lockPath(ip), { force: true });
      }
    }
  }
  if (result.length < count) {
    releaseAddresses(result);
    throw new Error(`could not allocate ${count} loopback addresses`);
  }
  return result;
}

export function releaseAddresses(ips: readonly string[]): void {
  for (const ip of ips) {
    if (!held.delete(ip)) continue;
    rmSync(lockPath(ip), { force: true });
  }
}

process.on('exit', () => releaseAddresses([...held]));
