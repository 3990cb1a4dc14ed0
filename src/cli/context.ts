// What a CLI run talks to, injectable so unit tests can run the whole command without etcd or a network.
import { isDataDirFresh } from '../adapters/datadir.js';
import { deregister, readRegistry, readSize, register } from '../adapters/discovery/index.js';
import { readTlsFiles } from '../adapters/etcd/index.js';
import { runJoin } from '../services/join.js';
import { promoteWhenReady } from '../services/promote.js';

export interface CliDependencies {
  readonly runJoin: typeof runJoin;
  readonly promoteWhenReady: typeof promoteWhenReady;
  readonly readRegistry: typeof readRegistry;
  readonly readSize: typeof readSize;
  readonly register: typeof register;
  readonly deregister: typeof deregister;
  readonly isDataDirFresh: typeof isDataDirFresh;
  readonly readTlsFiles: typeof readTlsFiles;
}

export const realDependencies: CliDependencies = {
  runJoin,
  promoteWhenReady,
  readRegistry,
  readSize,
  register,
  deregister,
  isDataDirFresh,
  readTlsFiles,
};

export interface CliIO {
  /** Receives only the final output; written once, at the end of a successful run. */
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** How to run this program again (executable and leading arguments), for the drop-in's promote command. */
  readonly selfCommand: readonly string[];
  readonly signal?: AbortSignal;
}
