#ifndef CORRAL_RELAY_H
#define CORRAL_RELAY_H

#include <sys/types.h>

/*
 * The command's side of `exec` I/O, as the shim holds it. Without a terminal: the write end of the
 * command's stdin pipe and the read ends of its stdout and stderr pipes. With one: the pty master
 * (both directions; `out` and `err` are -1). The caller's own descriptors (0, 1, 2) stay with the
 * shim and are never handed to the command.
 */
struct relay_io {
    int in;
    int out, err;
    int master;
};

/*
 * Copies the caller's stdin to the command and the command's output to the caller's stdout and
 * stderr, forwards signals (SIGWINCH resizes the pty), and returns the command's wait status once
 * it has exited and its output is drained. SIGINT, SIGQUIT and SIGHUP go to the command's process
 * group (what a terminal would do), the others to the command itself. A signal a terminal generated
 * reaches both this process and its parent (`corral exec` forwards what it gets): the first of
 * the two copies is passed on, the other dropped, so each arrives once.
 */
int relay_run(pid_t pid, struct relay_io *io);

/* Copies the size of the caller's terminal (fd 0) to the pty. */
void relay_copy_winsize(int master);

#endif
