// Run by cycles.test.ts inside a test network namespace (`nsenter --net=`): attaches and detaches
// container names through the bridge driver of the built dist/ (as the reconciler would, without
// starting processes; one sync per cycle, as one pass would), then prints what is left as one JSON line.
// Usage: node cycles-child.mjs STATE_ROOT CYCLES

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bridgeNetworkPort } from '../../../dist/drivers/network/bridge/port.js';

const [root, cyclesText] = process.argv.slice(2);
const cycles = Number(cyclesText);
const port = bridgeNetworkPort({
  root, rootId: 'c'.repeat(32), names: { bridge: 'cr-cycles', table: 'corral_cycles' },
  containerDir: (name) => join(root, 'containers', name),
});
const spec = (name, i) => ({
  name, hostname: name, security: { sysctls: [] },
  network: { mode: 'bridge', bridge: { address: 'auto', aliases: [] }, dns: null, ports: [{ hostIP: '0.0.0.0', hostPort: 10000 + (i % 50), containerPort: 80, protocol: i % 2 ? 'udp' : 'tcp' }] },
});
const signal = new globalThis.AbortController().signal;
const addresses = new Set();
const started = Date.now();
// Two live at a time, each name used once: 300 names through a /24 of 253 addresses.
let previous = null;
for (let i = 0; i < cycles; i++) {
  const name = `c${i}`;
  mkdirSync(join(root, 'containers', name), { recursive: true });
  const attached = await port.attach(name, spec(name, i), signal);
  addresses.add(attached.handle.address);
  if (previous) await port.detach(previous, null, signal);
  previous = name;
  // One reconcile pass per cycle: its end publishes the ports (one nft run).
  await port.sync(signal);
}
if (previous) await port.detach(previous, null, signal);
await port.sync(signal);
process.stdout.write(`${JSON.stringify({ left: await port.list(), distinctAddresses: addresses.size, msPerCycle: (Date.now() - started) / cycles })}\n`);
