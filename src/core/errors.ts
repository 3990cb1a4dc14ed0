// What a caught value says, for log lines and error messages: anything may be thrown, not only Errors.

/** The message of a thrown value: an Error's own message, anything else as a string. Never throws. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
