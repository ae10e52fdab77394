// A tiny C program that tries device accesses and prints what the kernel answered, placed in a
// container cgroup before it runs (spawnWaiting), plus the device nodes it tries. Nodes missing
// from this host's /dev (the VM has no kvm, no loop) are made on a private tmpfs: the device
// controller checks the numbers, not the path, and the tmpdir's own filesystem may be `nodev`.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CgroupHandle, CgroupManager } from '../../../src/drivers/cgroups/index.js';
import { deviceNumber } from '../../../src/drivers/cgroups/convert.js';
import { MNT, mount, umount2 } from '../../../src/sys/mount.js';
import { spawnWaiting, within } from './support.js';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *name(int e) {
  static char other[32];
  switch (e) {
  case 0: return "ok";
  case EPERM: return "EPERM";
  case EACCES: return "EACCES";
  case ENOENT: return "ENOENT";
  case ENXIO: return "ENXIO";
  case ENODEV: return "ENODEV";
  case EBUSY: return "EBUSY";
  case EINVAL: return "EINVAL";
  case EIO: return "EIO";
  default: snprintf(other, sizeof other, "errno%d", e); return other;
  }
}

static int try_open(const char *mode, const char *path) {
  int flags = strcmp(mode, "r") == 0 ? O_RDONLY : strcmp(mode, "w") == 0 ? O_WRONLY : O_RDWR;
  int fd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

/* open:MODE:PATH  mknod:TYPE:MAJOR:MINOR:PATH  until:STOPFILE:READYFILE:MODE:PATH */
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    char *op = strdup(argv[i]), *kind = strtok(op, ":");
    int e = EINVAL;
    if (strcmp(kind, "open") == 0) {
      char *mode = strtok(NULL, ":"), *path = strtok(NULL, "");
      e = try_open(mode, path);
    } else if (strcmp(kind, "mknod") == 0) {
      char *type = strtok(NULL, ":");
      unsigned major = atoi(strtok(NULL, ":")), minor = atoi(strtok(NULL, ":"));
      char *path = strtok(NULL, "");
      e = mknod(path, (type[0] == 'b' ? S_IFBLK : S_IFCHR) | 0600, makedev(major, minor)) == 0 ? 0 : errno;
      if (e == 0) unlink(path);
    } else if (strcmp(kind, "until") == 0) {
      char *stop = strtok(NULL, ":"), *ready = strtok(NULL, ":"), *mode = strtok(NULL, ":"), *path = strtok(NULL, "");
      long opens = 0, failures = 0;
      int last = 0, readied = 0;
      /* Ready once the loop runs: the first open is done when the caller starts its changes. */
      while (access(stop, F_OK) != 0) {
        int x = try_open(mode, path);
        opens++;
        if (x != 0) failures++, last = x;
        if (!readied) {
          int fd = open(ready, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
          if (fd >= 0) close(fd);
          readied = 1;
        }
      }
      printf("%s opens=%ld failures=%ld last=%s\n", argv[i], opens, failures, name(last));
      continue;
    }
    printf("%s %s\n", argv[i], name(e));
  }
  return 0;
}
`;

export interface DeviceNode {
  readonly type: 'c';
  readonly major: number;
  readonly minor: number;
}

/** The nodes the tests try, by their usual /dev name. */
export const NODES = {
  'null': { type: 'c', major: 1, minor: 3 },
  'zero': { type: 'c', major: 1, minor: 5 },
  'urandom': { type: 'c', major: 1, minor: 9 },
  'loop-control': { type: 'c', major: 10, minor: 237 },
  'kvm': { type: 'c', major: 10, minor: 232 },
  'tty0': { type: 'c', major: 4, minor: 0 },
  'console': { type: 'c', major: 5, minor: 1 },
} as const satisfies Record<string, DeviceNode>;

export type NodeName = keyof typeof NODES;

export class DeviceProbe {
  readonly dir = mkdtempSync(join(tmpdir(), 'corral-devices-'));
  private readonly binary = join(this.dir, 'probe');
  private devDir: string | null = null;
  private runs = 0;
  private paths = 0;

  constructor() {
    writeFileSync(join(this.dir, 'probe.c'), SOURCE);
    execFileSync('cc', ['-O1', '-Wall', '-o', this.binary, join(this.dir, 'probe.c')], { stdio: 'pipe' });
  }

  /** `/dev/NAME` when it is that device here, else a node of the same numbers on a private tmpfs. */
  path(name: NodeName): string {
    const n = NODES[name];
    const real = `/dev/${name}`;
    try {
      const st = statSync(real, { bigint: true });
      if (st.isCharacterDevice() && deviceNumber(st.rdev) === `${n.major}:${n.minor}`) return real;
    } catch {
      // not on this host: make one below
    }
    if (this.devDir === null) {
      const dir = join(this.dir, 'dev');
      mkdirSync(dir);
      mount({ source: 'corral-test-dev', target: dir, fstype: 'tmpfs', data: 'size=64k,mode=0755' });
      this.devDir = dir;
    }
    const made = join(this.devDir, name);
    if (!existsSync(made)) execFileSync('mknod', ['-m', '0600', made, n.type, String(n.major), String(n.minor)]);
    return made;
  }

  /** A path in the tmpdir no earlier run used (mknod targets, which the probe removes; marker files). */
  freshPath(label: string): string {
    return join(this.dir, `${label}-${++this.paths}`);
  }

  /**
   * Runs the probe as a new process of the cgroup: placed with addProc while it waits, then let
   * go. Returns each operation's answer (`ok`, `EPERM`…). `beforeGo` runs between placement and go.
   */
  async run(cg: CgroupManager, handle: CgroupHandle, ops: readonly string[], beforeGo?: (pid: number) => Promise<void>): Promise<Map<string, string>> {
    const out = join(this.dir, `out-${++this.runs}`);
    const quoted = ops.map((o) => `'${o}'`).join(' ');
    const proc = await spawnWaiting(`exec ${this.binary} ${quoted} > ${out} 2>&1`);
    await cg.addProc(handle, proc.pid);
    await beforeGo?.(proc.pid);
    proc.go();
    const exit = await within(proc.exit, 'the probe to finish', 120_000);
    const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
    if (exit.code !== 0) throw new Error(`probe exited with ${exit.code ?? exit.signal}: ${text}`);
    const answers = new Map<string, string>();
    for (const line of text.trim().split('\n').filter(Boolean)) {
      const cut = line.lastIndexOf(' ', line.startsWith('until:') ? line.indexOf(' opens=') : undefined);
      answers.set(line.slice(0, cut), line.slice(cut + 1));
    }
    return answers;
  }

  close(): void {
    if (this.devDir !== null) umount2(this.devDir, MNT.DETACH);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
