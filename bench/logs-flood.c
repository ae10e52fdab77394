/* The payload of bench/logs: writes BYTES of LINE-byte lines to stdout in 64 KiB writes, then
 * "DONE\n", then waits to be killed (so that the monitors can be measured while still alive).
 * Each line is its number in decimal, padded with '.' to LINE-1 bytes: the bench checks that every
 * line arrives whole and in order. Static, so it runs in a bare busybox root.
 * Usage: logs-flood BYTES LINE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(1, p, n);
        if (w < 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    unsigned long long total = strtoull(argv[1], NULL, 10);
    size_t line = (size_t)strtoul(argv[2], NULL, 10);
    if (line < 16 || line > 4096) return 2;
    static char buf[65536];
    size_t used = 0;
    unsigned long long n = 0;
    for (unsigned long long sent = 0; sent + line <= total; sent += line, n++) {
        if (used + line > sizeof(buf)) {
            if (write_all(buf, used) < 0) return 1;
            used = 0;
        }
        int k = snprintf(buf + used, line, "%llu", n);
        memset(buf + used + k, '.', line - 1 - (size_t)k);
        buf[used + line - 1] = '\n';
        used += line;
    }
    if (write_all(buf, used) < 0 || write_all("DONE\n", 5) < 0) return 1;
    for (;;) pause();
}
