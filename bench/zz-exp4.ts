import { LaunchBench } from './launch.js';
import { performance } from 'node:perf_hooks';
import { ParameterStore } from '../src/adapters/aws/index.js';
import { EtcdClient } from '../src/adapters/etcd/index.js';
let t0 = 0;
let marks: string[] = [];
const mark = (what: string) => marks.push(`${what}@${Math.round(performance.now() - t0)}`);
const put = ParameterStore.prototype.putInstanceFile;
ParameterStore.prototype.putInstanceFile = async function (this: ParameterStore, id: string, file: any, value: string) {
  mark(`put-${file}-start`);
  const r = await put.call(this, id, file, value);
  mark(`put-${file}`);
  return r;
} as any;
const prom = EtcdClient.prototype.memberPromote;
EtcdClient.prototype.memberPromote = async function (this: EtcdClient, ...a: any[]) {
  try { const r = await (prom as any).apply(this, a); mark('promoted'); return r; } catch (e) { mark('promote-refused'); throw e; }
} as any;
for (const tls of [false, true]) {
  const b = await LaunchBench.start({ tls, seed: tls ? 4202 : 4201 });
  const world = (b as any).world;
  const deps = (b as any).deps.bind(b);
  (b as any).deps = () => { t0 = performance.now(); marks = []; return deps(); };
  await b.measure(0, 'last');
  for (let i = 0; i < 4; i++) {
    const before = new Set(world.group.instances().map((x: any) => x.id));
    let done = false;
    const watcher = (async () => {
      let id: string | undefined; let spawned = false; let answered = false;
      while (!done) {
        id ??= world.group.instances().find((x: any) => !before.has(x.id))?.id;
        if (id !== undefined && t0 > 0) {
          if (!spawned && world.etcdOf(id) !== undefined) { spawned = true; mark('etcd-spawned'); }
          if (spawned && !answered && (await world.status(id, 100)) !== undefined) { answered = true; mark('learner-answers'); }
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    t0 = 0;
    const l = await b.measure(0, 'last');
    done = true;
    await watcher;
    console.log(tls ? 'tls  ' : 'plain', 'handled', l.ms.toFixed(0), marks.join(' '));
  }
  await b.close();
}
