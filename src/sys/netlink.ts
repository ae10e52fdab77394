// rtnetlink (NETLINK_ROUTE) through koffi: a socket, requests with their acknowledgement, dumps,
// and the attribute encoding (netlink(7), rtnetlink(7)). What `ip` does, without a process per
// command. A socket belongs to the network namespace it was opened in, whichever namespace its
// user is in later: net-namespace.ts opens one inside a container's new namespace.
//
// Never blocks: every receive is MSG_DONTWAIT. The kernel answers an rtnetlink request inside
// the send, so an answer that is not there yet is an error, not a wait.

import { check, describeErrno, errnoName, lastErrno, libcFunction, syscallError } from './libc.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
/** sock_diag(7): the sockets of the namespace, by family and protocol. */
export const NETLINK_SOCK_DIAG = 4;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;

export const NLM_F = { REQUEST: 0x1, MULTI: 0x2, ACK: 0x4, EXCL: 0x200, CREATE: 0x400, DUMP: 0x300 } as const;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const HEADER = 16;

export const RTM = { NEWLINK: 16, DELLINK: 17, GETLINK: 18, NEWADDR: 20, NEWROUTE: 24 } as const;

/** A netlink attribute: type, then payload, padded to 4 bytes. */
export function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

export const u8 = (v: number): Buffer => Buffer.from([v]);
export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
}
export const str = (s: string): Buffer => Buffer.from(`${s}\0`);

/** The attributes in `buf` from `offset`, by type (the last one wins, as the kernel's parser does). */
export function parseAttrs(buf: Buffer, offset = 0, end = buf.length): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  while (offset + 4 <= end) {
    const len = buf.readUInt16LE(offset);
    if (len < 4 || offset + len > end) break;
    // The nested flag (0x8000) and the byte-order flag (0x4000) are not part of the type.
    out.set(buf.readUInt16LE(offset + 2) & 0x3fff, buf.subarray(offset + 4, offset + len));
    offset += (len + 3) & ~3;
  }
  return out;
}

export const cString = (b: Buffer | undefined): string | null => (b === undefined ? null : b.toString('utf8').replace(/\0.*$/s, ''));

/** The kernel refused a request: errno and its extended message, when it gave one. */
export class NetlinkError extends Error {
  constructor(readonly errno: number, readonly errnoName: string, message: string) {
    super(message);
  }
}

let sequence = 0;

export class NetlinkSocket {
  private closed = false;

  private constructor(private readonly fd: number) {}

  /** A netlink socket (NETLINK_ROUTE by default) in the calling thread's network namespace. */
  static open(protocol = NETLINK_ROUTE): NetlinkSocket {
    const fd = check(libcFunction('int socket(int domain, int type, int protocol)')(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol) as number, 'socket', { domain: 'AF_NETLINK', protocol });
    return new NetlinkSocket(fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libcFunction('int close(int fd)')(this.fd);
  }

  /**
   * Sends one request and returns the messages of its answer (their payloads, after the header):
   * none for an acknowledged change, the objects of a dump. Throws NetlinkError when refused.
   */
  request(type: number, flags: number, body: Buffer, what: string): Buffer[] {
    const seq = ++sequence;
    const message = Buffer.concat([Buffer.alloc(HEADER), body]);
    message.writeUInt32LE(message.length, 0);
    message.writeUInt16LE(type, 4);
    message.writeUInt16LE(NLM_F.REQUEST | NLM_F.ACK | flags, 6);
    message.writeUInt32LE(seq, 8);
    // To the kernel: a sockaddr_nl of AF_NETLINK, port 0, no groups.
    const kernel = Buffer.alloc(12);
    kernel.writeUInt16LE(AF_NETLINK, 0);
    const sent = libcFunction('long sendto(int fd, const uint8_t *buf, size_t len, int flags, const uint8_t *addr, uint32_t addrlen)')(this.fd, message, message.length, 0, kernel, kernel.length) as number;
    if (sent !== message.length) throw syscallError('send', { socket: 'netlink', what });
    const recv = libcFunction('long recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)');
    const out: Buffer[] = [];
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = recv(this.fd, buf, buf.length, MSG_DONTWAIT) as number;
      if (n < 0) {
        const errno = lastErrno();
        if (errno === EAGAIN) throw new NetlinkError(errno, 'EAGAIN', `${what}: no answer from the kernel`);
        throw syscallError('recv', { socket: 'netlink', what }, errno);
      }
      for (let offset = 0; offset + HEADER <= n;) {
        const len = buf.readUInt32LE(offset);
        const msgType = buf.readUInt16LE(offset + 4);
        const msgSeq = buf.readUInt32LE(offset + 8);
        if (len < HEADER || offset + len > n) break;
        if (msgSeq === seq) {
          if (msgType === NLMSG_DONE) return out;
          if (msgType === NLMSG_ERROR) {
            const error = -buf.readInt32LE(offset + HEADER);
            if (error === 0) return out;
            throw refusal(error, what, buf.subarray(offset, offset + len));
          }
          out.push(Buffer.from(buf.subarray(offset + HEADER, offset + len)));
        }
        offset += (len + 3) & ~3;
      }
    }
  }
}

const NLMSGERR_ATTR_MSG = 1;

/** The errno of an NLMSG_ERROR, with the kernel's extended message when it sent one. */
function refusal(errno: number, what: string, message: Buffer): NetlinkError {
  // The error message echoes the request's header (16 bytes) after the errno; extended ack
  // attributes follow when the request's payload was left out (capped).
  const flags = message.readUInt16LE(6);
  let detail = '';
  if (flags & 0x200) {
    const attrs = parseAttrs(message, HEADER + 4 + HEADER);
    detail = cString(attrs.get(NLMSGERR_ATTR_MSG)) ?? '';
  }
  return new NetlinkError(errno, errnoName(errno), `${what}: ${errnoName(errno)} (${describeErrno(errno)})${detail ? `: ${detail}` : ''}`);
}
