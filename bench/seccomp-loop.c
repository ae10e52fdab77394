/*
 * bench/seccomp-loop: the cost of one system call under a seccomp filter, in ns per call.
 *   seccomp-loop FILTER|- NR ARG0 ITERATIONS [nocache]
 * FILTER is a sock_filter array as corral encodes it (8 bytes per instruction, the layout of
 * struct sock_filter on x86-64); `-` loads none. `nocache` stacks a second, two-instruction filter
 * that reads an argument: the kernel (5.11+) then cannot precompute "always allowed" for any
 * call, and runs every filter on every call, as kernels before 5.11 always do.
 * Prints the best of 7 rounds, so other work on the machine inflates it least.
 */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static struct sock_filter prog[4096];

static void load(struct sock_filter *f, size_t n)
{
    struct sock_fprog fprog = {(unsigned short)n, f};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0) {
        perror("seccomp-loop: load filter");
        exit(1);
    }
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no system call, no filter */
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: seccomp-loop FILTER|- NR ARG0 ITERATIONS [nocache]\n");
        return 2;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        perror("seccomp-loop: no_new_privs");
        return 1;
    }
    if (strcmp(argv[1], "-") != 0) {
        FILE *f = fopen(argv[1], "rb");
        if (!f) {
            perror(argv[1]);
            return 1;
        }
        size_t n = fread(prog, sizeof(prog[0]), sizeof(prog) / sizeof(prog[0]), f);
        fclose(f);
        load(prog, n);
    }
    if (argc > 5 && strcmp(argv[5], "nocache") == 0) {
        struct sock_filter reads_arg[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 16),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        load(reads_arg, 2);
    }
    long nr = strtol(argv[2], NULL, 0);
    unsigned long arg0 = strtoul(argv[3], NULL, 0);
    long iterations = strtol(argv[4], NULL, 0);
    double best = 1e18;
    for (int round = 0; round < 7; round++) {
        double t0 = now_ns();
        for (long i = 0; i < iterations; i++) syscall(nr, arg0, 0, 0, 0, 0, 0);
        double per = (now_ns() - t0) / (double)iterations;
        if (per < best) best = per;
    }
    printf("%.1f\n", best);
    return 0;
}
