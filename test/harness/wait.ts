// Bounded polling: tests wait on an observable condition with an overall deadline, never on a fixed sleep.
import { setTimeout as delay } from 'node:timers/promises';

export interface PollOptions {
  /** Overall bound in milliseconds. */
  readonly timeoutMs: number;
  /** Pause between attempts in milliseconds (not a sleep standing in for readiness: the condition is re-checked). */
  readonly intervalMs?: number;
  /** Describes what we waited for, for the error message. */
  readonly what: string;
}

/**
 * Calls `probe` until it returns a value other than undefined, and returns that value.
 * A probe may throw to abort the wait at once (e.g. the process it waits on has exited).
 */
export async function pollUntil<T>(probe: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 100;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
    await delay(interval);
  }
}

/** GETs or POSTs a JSON URL with a short per-request timeout; undefined on any failure. */
export async function tryJson(url: string, init: { method?: 'GET' | 'POST'; body?: unknown; timeoutMs?: number } = {}): Promise<unknown> {
  try {
    const response = await fetch(url, {
      method: init.method ?? 'GET',
      headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
      body: init.body === undefined ? null : JSON.stringify(init.body),
      signal: AbortSignal.timeout(init.timeoutMs ?? 1000),
    });
    if (!response.ok) return undefined;
    const body: unknown = await response.json();
    return body;
  } catch {
    return undefined;
  }
}
