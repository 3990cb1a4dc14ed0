// What systemd makes of a drop-in elastic-etcd wrote: the one strict reader the tests, the simulated world and the
// scripts share. Strict on purpose: anything systemd would read differently from what the writer meant (an unknown
// escape or specifier, an unterminated quote, a line outside the allowed sections) is an error, not a guess.

export class DropinParseError extends Error {
  constructor(message: string) {
    super(`invalid drop-in: ${message}`);
    this.name = 'DropinParseError';
  }
}

export interface Dropin {
  /** The variables the `Environment=` lines set, unquoted as systemd does. */
  readonly settings: Record<string, string>;
  /** Each `ExecStartPost=` command line with its `%%` specifiers undone; split it with {@link splitSystemdCommand}. */
  readonly execStartPost: string[];
  /** The units `Requires=` names. */
  readonly requires: string[];
}

export interface DropinRules {
  /**
   * The sections the drop-in may have. The boot script accepts only `[Service]` from the Lambda; the CLI's
   * `-o dropin` adds `[Unit]` (After=, Requires=).
   * @default ['Service']
   */
  readonly sections?: readonly string[];
}

/**
 * Reads a systemd drop-in as systemd would: words of `Environment=` are separated by blanks, double quotes group,
 * inside quotes `\\` and `\"` are escapes, and `%%` is a literal `%` (other specifiers are refused: elastic-etcd
 * never writes them). Throws `DropinParseError` for anything else.
 */
export function parseDropin(text: string, rules: DropinRules = {}): Dropin {
  const sections = rules.sections ?? ['Service'];
  const settings: Record<string, string> = {};
  const execStartPost: string[] = [];
  const requires: string[] = [];
  let section: string | undefined;
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    const where = `line ${index + 1}`;
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header !== null) {
      section = header[1] ?? '';
      if (!sections.includes(section)) {
        throw new DropinParseError(
          `${where}: section [${section}]; this drop-in may only configure ${sections.map((s) => `[${s}]`).join(', ')}`,
        );
      }
      continue;
    }
    if (section === undefined) throw new DropinParseError(`${where}: ${JSON.stringify(line)} before the first section`);
    const eq = line.indexOf('=');
    if (eq < 1) throw new DropinParseError(`${where}: not a key=value line: ${JSON.stringify(line)}`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1);
    if (key === 'Environment') {
      for (const word of systemdWords(value, where, 'environment')) {
        const assign = word.indexOf('=');
        if (assign < 1) throw new DropinParseError(`${where}: ${JSON.stringify(word)} is not a VARIABLE=value assignment`);
        settings[word.slice(0, assign)] = word.slice(assign + 1);
      }
    } else if (key === 'ExecStartPost') {
      execStartPost.push(unescapeSpecifiers(value, where));
    } else if (key === 'Requires') {
      requires.push(...value.split(/\s+/).filter((unit) => unit !== ''));
    }
    // Other keys (After=, ...) set neither variables nor commands.
  }
  if (section === undefined) throw new DropinParseError('no section');
  return { settings, execStartPost, requires };
}

/**
 * Splits an Exec command line (after {@link parseDropin}) into its words as systemd does: blanks separate, double
 * quotes group, inside quotes `\\` and `\"` are escapes, and `$$` is a literal `$`.
 */
export function splitSystemdCommand(command: string): string[] {
  return systemdWords(command, 'command', 'command');
}

type WordRules = 'environment' | 'command';

function systemdWords(value: string, where: string, rules: WordRules): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < value.length) {
    while (value[i] === ' ' || value[i] === '\t') i++;
    if (i >= value.length) break;
    let word = '';
    let quoted = false;
    for (; i < value.length; i++) {
      const c = value[i]!;
      if (!quoted && (c === ' ' || c === '\t')) break;
      if (c === '"') {
        quoted = !quoted;
      } else if (c === '\\' && quoted) {
        const next = value[i + 1];
        if (next !== '\\' && next !== '"') throw new DropinParseError(`${where}: unsupported escape \\${next ?? ''}`);
        word += next;
        i++;
      } else if (c === '%' && rules === 'environment') {
        if (value[i + 1] !== '%') throw new DropinParseError(`${where}: unsupported specifier %${value[i + 1] ?? ''}`);
        word += '%';
        i++;
      } else if (c === '$' && rules === 'command') {
        if (value[i + 1] !== '$') throw new DropinParseError(`${where}: unsupported variable expansion $${value[i + 1] ?? ''}`);
        word += '$';
        i++;
      } else {
        word += c;
      }
    }
    if (quoted) throw new DropinParseError(`${where}: unterminated quote`);
    words.push(word);
  }
  return words;
}

/** `%%` is a literal `%`; any other specifier is refused. */
function unescapeSpecifiers(value: string, where: string): string {
  return value.replace(/%(.?)/g, (_match, next: string) => {
    if (next !== '%') throw new DropinParseError(`${where}: unsupported specifier %${next}`);
    return '%';
  });
}
