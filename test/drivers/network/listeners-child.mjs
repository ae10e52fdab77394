// Run inside a test network namespace by listeners.test.ts: opens TCP and UDP sockets on the
// addresses given, then prints what sock_diag and /proc each see of them, as JSON.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { listenersFromDiag, listenersFromProc } from '../../../dist/drivers/network/bridge/host-facts.js';

const tcp = [['127.0.0.1', 18081], ['2001:db8:1::1', 18082], ['::', 18083]];
const udp = [['udp4', '0.0.0.0', 15353], ['udp6', '::', 15354]];
const servers = await Promise.all(tcp.map(([host, port]) => new Promise((resolve) => { const s = createServer(); s.listen(port, host, () => resolve(s)); })));
const sockets = await Promise.all(udp.map(([type, host, port]) => new Promise((resolve) => { const s = createSocket(type); s.bind(port, host, () => resolve(s)); })));
const sorted = (list) => list.map((l) => `${l.v6 ? `[${l.address}]` : l.address}:${l.port}`).sort();
process.stdout.write(JSON.stringify({
  diag: { tcp: sorted(listenersFromDiag('tcp')), udp: sorted(listenersFromDiag('udp')) },
  proc: { tcp: sorted(listenersFromProc('tcp')), udp: sorted(listenersFromProc('udp')) },
}));
for (const s of [...servers, ...sockets]) s.close();
