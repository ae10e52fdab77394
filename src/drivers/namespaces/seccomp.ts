// The default seccomp filter: an allow-list kept as a profile in OCI/Docker JSON form
// (seccomp-default.json, next to this file), so a user can copy it as the start of
// `security.seccomp: {file: ...}`, and compiled by the same code as such files.
//
// Every call corral knows by name has an explicit verdict there: allowed, refused with EPERM (the
// known-dangerous: modules, kexec, mounts, namespaces, keyrings, bpf, perf, io_uring...), or
// ENOSYS. The default action is ENOSYS, so a call newer than the list (a new kernel's
// listmount, statmount...) looks unimplemented and libc falls back to the older call. clone,
// socket, socketpair and personality are decided on their first argument (socket families
// outside the list get EAFNOSUPPORT); clone3 gets ENOSYS because its flags live in memory a
// filter cannot read. A foreign architecture or the x32 ABI kills the process (the shared
// prologue in seccomp-bpf.ts).
//
// Unlike Docker's profile, no entry depends on the container's capabilities: the program is the
// same for every container, built once per process, and an added capability does not unlock a
// refused call (a container that needs one runs with a profile file, or unconfined). Only x86-64
// numbers are known here.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CorralError } from '../../errors.js';
import { compileSeccompProfile } from './seccomp-compile.js';
import { parseSeccompProfile } from './seccomp-profile.js';

/**
 * Resolved from src/ (tests) and dist/ (the build) alike: both sit one level below the checkout,
 * and the JSON stays in src/ (tsc copies no data files).
 */
export const DEFAULT_PROFILE_PATH = fileURLToPath(new URL('../../../src/drivers/namespaces/seccomp-default.json', import.meta.url));

let compiled: Uint8Array | null = null;

function compileDefault(): Uint8Array {
  let text: string;
  try {
    text = readFileSync(DEFAULT_PROFILE_PATH, 'utf8');
  } catch (e) {
    throw new CorralError('SECCOMP_PROFILE_INVALID', `default seccomp profile \`${DEFAULT_PROFILE_PATH}\` cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
      field: 'spec.security.seccomp', hint: 'reinstall corral, or set `security.seccomp: unconfined`', cause: e,
    });
  }
  // No capabilities and no kernel release: the file has no entries that depend on them, and a
  // test keeps it so. Its warnings (none, by the same test) are not a container's concern.
  return compileSeccompProfile(parseSeccompProfile(text, DEFAULT_PROFILE_PATH), { capabilities: [], kernelRelease: null }).program;
}

/** `arch` as Node names it (`process.arch`). A fresh copy of the program on every call. */
export function defaultSeccompProgram(arch: string): Uint8Array {
  if (arch !== 'x64') {
    throw new CorralError('HOST_UNSUPPORTED', `the default seccomp filter knows x86-64 syscall numbers only, not \`${arch}\``, {
      hint: 'set `security.seccomp: unconfined` on this host',
    });
  }
  compiled ??= compileDefault();
  // A copy (Buffer#slice would share the memory): callers may keep or change theirs.
  return new Uint8Array(compiled);
}
