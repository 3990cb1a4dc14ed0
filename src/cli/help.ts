// The help text, generated from the option table so it cannot drift from what the parser accepts.
import { envVarOf, OPTION_SPECS, type CommandName, type OptionSpec } from './options.js';

const INTRO: Readonly<Record<CommandName, string>> = {
  join: `elastic-etcd - join an etcd cluster safely, during bootstrap or later, and print etcd's configuration

Usage:
  elastic-etcd [options]            join (or bootstrap) and print the configuration for etcd
  elastic-etcd promote [options]    promote this node's learner once it is in sync (run after etcd started)
  elastic-etcd snapshot --to FILE   take a verified snapshot of a running cluster (see snapshot --help)
  elastic-etcd restore --from KEY   ask the lifecycle Lambda to restore from a backup (see restore --help)
  elastic-etcd status               is the cluster healthy, and does it match its group (see status --help)

Prints only the configuration on stdout (-o env, dropin, flags or json); logs and errors go to stderr.
Exit status: 0 success, 1 join refused or failed (nothing on stdout), 2 usage error (nothing on stdout).
Flags take one or two dashes (-name=n1, --name n1). A flag wins over its ELASTIC_ETCD_* variable, which wins
over the default; an empty variable counts as unset.`,
  promote: `elastic-etcd promote - promote this node's learner to a voting member once it has caught up

Usage:
  elastic-etcd promote --name=NAME --initial-advertise-peer-urls=URLS (--discovery=URL | --endpoints=URLS)

Meant for the etcd unit's ExecStartPost (the -o dropin output adds it). Exit status: 0 promoted or already a
voter, 1 not possible within --timeout (or not a member), 2 usage error.`,
};

export function helpText(command: CommandName): string {
  const specs = OPTION_SPECS.filter((s) => s.commands.includes(command));
  const lines = [INTRO[command], '', 'Options:'];
  for (const spec of specs.filter((s) => s.compatibility !== true)) lines.push(...describeOption(spec));
  const compat = specs.filter((s) => s.compatibility === true).map((s) => `-${s.name}`);
  lines.push('', `Accepted and ignored for compatibility with the original (glog): ${compat.join(', ')}.`);
  return `${lines.join('\n')}\n`;
}

function describeOption(spec: OptionSpec): string[] {
  const dashes = spec.name.length === 1 ? '-' : '--';
  const flag = `${dashes}${spec.name}${spec.placeholder === undefined ? '' : `=${spec.placeholder}`}${spec.name === 'help' ? ', -h' : ''}`;
  const extras = [
    ...(spec.defaultText === undefined ? [] : [`default ${spec.defaultText}`]),
    ...(spec.env ? [`env ${envVarOf(spec.name)}`] : []),
  ];
  const text = `${spec.description}${extras.length === 0 ? '' : ` [${extras.join('; ')}]`}`;
  return [`  ${flag}`, ...wrap(text, 100).map((l) => `      ${l}`)];
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(' ')) {
    if (current !== '' && current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else {
      current = current === '' ? word : `${current} ${word}`;
    }
  }
  if (current !== '') lines.push(current);
  return lines;
}
