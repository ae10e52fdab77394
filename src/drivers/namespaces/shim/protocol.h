/*
 * How the agent (TypeScript) and the shim talk. Field ids and file names live in fields.h, which
 * is generated from protocol-fields.ts.
 *
 * `corral-shim run` (start a container):
 *
 * Every mode starts the same way (main.c): not dumpable, then — unless /proc/self/exe already is a
 * sealed memfd, which is how the agent starts it — re-executed from a sealed memfd copy of itself
 * (seal.h). Until the payload's execve nothing the shim runs can be ptraced or read through /proc
 * by a container process.
 *
 *   agent (node)              shim P1              monitor P2 (setsid, subreaper)      container C
 *   ----------------------------------------------------------------------------------------------
 *   spawn P1 ------------->  read spec (fd 3)
 *   write spec, close fd 3   decode + validate
 *                            parent-death signal
 *                            (fd 4 without a
 *                            reader: give up)
 *                            fork ------------->  parent-death signal, setsid
 *                            wait for release     mkfifo alive.fifo, hold it open
 *                                                 (setns net via pidfd fd 5)
 *                                                 clone3(ns flags [, into cgroup]) --> wait(sync 1)
 *                                                 write uid_map/gid_map,               close every fd
 *                                                 oom_score_adj                        but sync+error
 *                                                 write "1" on sync ------------------> setresuid 0,
 *                                                 write pid to each cgroup.procs        mounts, /dev,
 *                                                   (the payload leaf; ~8 ms on a cold   lo up, hostname
 *                                                    cgroup: it overlaps the child's
 *                                                    mounts), then its own pid to each
 *                                                    MONITOR_CGROUP_PROCS (the monitor
 *                                                    leaf: from now on its CPU and
 *                                                    memory are the container's), its
 *                                                    own oom_score_adj
 *                                                 write "2" on sync ------------------> unshare cgroupns,
 *                                                                                       pivot_root, ro
 *                                                                                       paths, sysctls,
 *                                                                                       workdir (in the
 *                                                                                       root, no magic
 *                                                                                       links), creds,
 *                                                                                       caps, seccomp,
 *                                                 read error pipe (CLOEXEC)  <--------- execve
 *                                                 on EOF: state.json (atomic), clear the
 *                            _exit(0): the  <---- parent-death signal, release P1 (until
 *                            agent reaps it       then P1 and P2 die with their parent)
 *     status fd 4  <------------------------------ {"type":"ready",...}; on an error record
 *                                                 {"type":"error","stage",errno,"detail"}
 *                                                 close fd 4
 *                                                 loop: logs -> container.log (rotated;
 *                                                   64 KiB reads, records batched per write),
 *                                                 SIGTERM -> stop signal to C, reap children
 *                                                 C exits: exit.json (tmp, fsync, rename)
 *                                                 drain logs, exit: alive.fifo loses its
 *     reader of alive.fifo sees EOF  <------------ last writer
 *
 * With INIT set, C does not execve: after the same steps (creds, caps, seccomp included) it forks
 * the payload, which execs; C closes the error pipe once that execve succeeded and stays as
 * corral-init (init.c): signals forwarded to the payload, every child reaped. When the payload
 * ends, C writes its wait status (an int) on a pipe the monitor made for it, and exits; the
 * monitor records that status in exit.json ("init":true) instead of C's own.
 *
 * `corral-shim exec` (enter a running container): spec on fd 3, status on fd 4, a pidfd of the
 * container's init on fd 5, the caller's stdio on 0-2. The shim joins the cgroups, setns()es into
 * the namespaces of the pidfd, forks the command into a session of its own with pipes (or, when
 * TTY is set, a new pty from the container's devpts) as its stdio — never the caller's fds —,
 * relays bytes and signals between the two (relay.h), reports {"type":"ready","pid"} then
 * {"type":"exited","exitCode"|"signal"} and exits with the command's code (128+signal when
 * killed). If its parent dies, it hangs the command up (SIGHUP).
 *
 * `corral-shim check-spec`: decodes the spec on fd 3 and prints it back as JSON (round-trip and
 * fuzz tests). Every mode answers a malformed spec with {"type":"error","stage":"spec"} on fd 4
 * (when open) and stderr, and exit status SHIM_EXIT_PROTOCOL.
 *
 * Log lines of the shim itself are JSON objects, one per line, on stderr (the agent forwards them
 * to its logger; the monitor later appends them to monitor.log).
 */
#ifndef CORRAL_PROTOCOL_H
#define CORRAL_PROTOCOL_H

#include "fields.h"

#define SYNC_MAPS_DONE '1'
#define SYNC_CGROUPS_DONE '2'

/* What the container child sends on its error pipe when a setup step fails. */
struct setup_error {
    char stage[32];
    int err;
    char detail[1024];
};

#endif
