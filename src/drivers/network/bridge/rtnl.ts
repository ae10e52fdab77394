// The rtnetlink requests of the bridge driver's hot path (a container's wiring and unwiring, the
// per-pass look at the bridge's ports), made in this process over src/sys/netlink.ts: the same
// kernel calls `ip link add … type veth peer …`, `ip addr add`, `ip route add` make, without a
// process each. Rare operations (making a bridge, repairs) keep `ip -batch` (links.ts).

import { CorralError } from '../../../errors.js';
import { parseIPv4 } from '../../../manifest/ipv4.js';
import { parseIPv6 } from '../../../manifest/ipv6.js';
import { attr, cString, NetlinkError, NLM_F, parseAttrs, RTM, str, u32, u8, type NetlinkSocket } from '../../../sys/netlink.js';

const AF = { UNSPEC: 0, INET: 2, INET6: 10 } as const;
const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4, MASTER: 10, LINKINFO: 18, IFALIAS: 20, NET_NS_FD: 28 } as const;
const IFLA_INFO = { KIND: 1, DATA: 2, SLAVE_KIND: 4, SLAVE_DATA: 5 } as const;
const VETH_INFO_PEER = 1;
const IFLA_BRPORT_MODE = 4;
const IFF_UP = 1;
const IFA = { ADDRESS: 1, LOCAL: 2 } as const;
const IFA_F_NODAD = 0x02;
const RTA = { GATEWAY: 5, OIF: 4 } as const;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;

export interface Link {
  readonly index: number;
  readonly name: string;
  /** The index of the bridge it is a port of; null when none. */
  readonly master: number | null;
  readonly alias: string | null;
}

function ifinfomsg(index = 0, flags = 0, change = 0, family: number = AF.UNSPEC): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(family, 0);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

function parseLink(payload: Buffer): Link {
  const attrs = parseAttrs(payload, 16);
  const master = attrs.get(IFLA.MASTER);
  return {
    index: payload.readInt32LE(4),
    name: cString(attrs.get(IFLA.IFNAME)) ?? '',
    master: master ? master.readUInt32LE(0) : null,
    alias: cString(attrs.get(IFLA.IFALIAS)),
  };
}

/** Every interface of the socket's namespace. */
export function listLinks(sock: NetlinkSocket): Link[] {
  return sock.request(RTM.GETLINK, NLM_F.DUMP, ifinfomsg(), 'list interfaces').map(parseLink);
}

/** One interface by name; null when there is none. */
export function linkByName(sock: NetlinkSocket, name: string): Link | null {
  try {
    const [payload] = sock.request(RTM.GETLINK, 0, Buffer.concat([ifinfomsg(), attr(IFLA.IFNAME, str(name))]), `read interface \`${name}\``);
    return payload ? parseLink(payload) : null;
  } catch (err) {
    if (err instanceof NetlinkError && (err.errnoName === 'ENODEV' || err.errnoName === 'ENOENT')) return null;
    throw err;
  }
}

function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

export interface VethRequest {
  /** The host end: its name, MTU and bridge (index). */
  readonly host: { readonly name: string; readonly mtu: number; readonly master: number };
  /** The other end, made in the namespace `nsFd` refers to. */
  readonly peer: { readonly name: string; readonly mtu: number; readonly mac: string; readonly nsFd: number };
}

/**
 * `ip link add NAME mtu M master BR type veth peer name eth0 mtu M address MAC netns NS` in one
 * request. Both ends come down: asking for IFF_UP in the same request fails (ENOTCONN) here.
 */
export function createVeth(sock: NetlinkSocket, req: VethRequest): void {
  const peer = Buffer.concat([
    ifinfomsg(),
    attr(IFLA.IFNAME, str(req.peer.name)),
    attr(IFLA.MTU, u32(req.peer.mtu)),
    attr(IFLA.ADDRESS, macBytes(req.peer.mac)),
    attr(IFLA.NET_NS_FD, u32(req.peer.nsFd)),
  ]);
  const body = Buffer.concat([
    ifinfomsg(),
    attr(IFLA.IFNAME, str(req.host.name)),
    attr(IFLA.MTU, u32(req.host.mtu)),
    attr(IFLA.MASTER, u32(req.host.master)),
    attr(IFLA.LINKINFO, Buffer.concat([attr(IFLA_INFO.KIND, str('veth')), attr(IFLA_INFO.DATA, attr(VETH_INFO_PEER, peer))])),
  ]);
  sock.request(RTM.NEWLINK, NLM_F.CREATE | NLM_F.EXCL, body, `create veth \`${req.host.name}\``);
}

/** `ip link add NAME mtu M type bridge` (down; the caller names it, addresses it, brings it up). */
export function createBridge(sock: NetlinkSocket, name: string, mtu: number): void {
  const body = Buffer.concat([ifinfomsg(), attr(IFLA.IFNAME, str(name)), attr(IFLA.MTU, u32(mtu)), attr(IFLA.LINKINFO, attr(IFLA_INFO.KIND, str('bridge')))]);
  sock.request(RTM.NEWLINK, NLM_F.CREATE | NLM_F.EXCL, body, `create bridge \`${name}\``);
}

export function setAlias(sock: NetlinkSocket, index: number, alias: string): void {
  sock.request(RTM.NEWLINK, 0, Buffer.concat([ifinfomsg(index), attr(IFLA.IFALIAS, Buffer.from(alias))]), `set the alias of interface ${index}`);
}

/** `ip link set DEV type bridge_slave hairpin on`. */
export function setHairpin(sock: NetlinkSocket, index: number): void {
  const info = Buffer.concat([attr(IFLA_INFO.SLAVE_KIND, str('bridge')), attr(IFLA_INFO.SLAVE_DATA, attr(IFLA_BRPORT_MODE, u8(1)))]);
  sock.request(RTM.NEWLINK, 0, Buffer.concat([ifinfomsg(index), attr(IFLA.LINKINFO, info)]), `turn hairpin on for interface ${index}`);
}

export function setUp(sock: NetlinkSocket, index: number): void {
  sock.request(RTM.NEWLINK, 0, ifinfomsg(index, IFF_UP, IFF_UP), `bring interface ${index} up`);
}

export function deleteLink(sock: NetlinkSocket, index: number): void {
  sock.request(RTM.DELLINK, 0, ifinfomsg(index), `delete interface ${index}`);
}

/** An address's bytes and family: `10.89.0.2` or `fd00::2`. */
function addressBytes(address: string): { family: number; bytes: Buffer } {
  const v4 = parseIPv4(address);
  if (v4 !== null) return { family: AF.INET, bytes: u32BE(v4) };
  const v6 = parseIPv6(address);
  if (v6 === null) throw new CorralError('INTERNAL', `not an address: ${address}`);
  const bytes = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) bytes[i] = Number((v6 >> BigInt(8 * (15 - i))) & 0xffn);
  return { family: AF.INET6, bytes };
}

function u32BE(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

/** `ip addr add ADDRESS/PREFIX dev INDEX [nodad]`. */
export function addAddress(sock: NetlinkSocket, index: number, address: string, prefix: number): void {
  const { family, bytes } = addressBytes(address);
  const msg = Buffer.alloc(8);
  msg.writeUInt8(family, 0);
  msg.writeUInt8(prefix, 1);
  // No duplicate detection: the address is corral's to give on a link corral made.
  msg.writeUInt8(family === AF.INET6 ? IFA_F_NODAD : 0, 2);
  msg.writeUInt32LE(index, 4);
  sock.request(RTM.NEWADDR, NLM_F.CREATE | NLM_F.EXCL, Buffer.concat([msg, attr(IFA.LOCAL, bytes), attr(IFA.ADDRESS, bytes)]), `add address ${address}/${prefix}`);
}

/** `ip route add default via GATEWAY dev INDEX` (IPv4 or IPv6, by the gateway's family). */
export function addDefaultRoute(sock: NetlinkSocket, index: number, gateway: string): void {
  const { family, bytes } = addressBytes(gateway);
  const msg = Buffer.alloc(12);
  msg.writeUInt8(family, 0);
  msg.writeUInt8(RT_TABLE_MAIN, 4);
  msg.writeUInt8(RTPROT_BOOT, 5);
  msg.writeUInt8(0, 6);
  msg.writeUInt8(RTN_UNICAST, 7);
  sock.request(RTM.NEWROUTE, NLM_F.CREATE | NLM_F.EXCL, Buffer.concat([msg, attr(RTA.GATEWAY, bytes), attr(RTA.OIF, u32(index))]), `add the default route via ${gateway}`);
}
