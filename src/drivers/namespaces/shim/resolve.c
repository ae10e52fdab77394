/* Path resolution that cannot leave the container, and descriptor hygiene before it. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "kernel.h"
#include "resolve.h"
#include "util.h"

static int openat2_with(int root, const char *path, int flags, uint64_t resolve)
{
    struct k_open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = resolve;
    return (int)RETRY(syscall(SYS_openat2, root, path, &how, sizeof(how)));
}

int open_in_root(int root, const char *path, int flags)
{
    return openat2_with(root, path, flags, K_RESOLVE_IN_ROOT | K_RESOLVE_NO_MAGICLINKS);
}

int open_in_root_nofollow(int root, const char *path, int flags)
{
    return openat2_with(root, path, flags, K_RESOLVE_IN_ROOT | K_RESOLVE_NO_MAGICLINKS | K_RESOLVE_NO_SYMLINKS);
}

static int close_span(unsigned lo, unsigned hi)
{
    if (lo > hi) return 0;
    if (syscall(SYS_close_range, lo, hi, 0) == 0) return 0;
    if (errno != ENOSYS) return -1;
    /* Kernels before 5.9: close what is open, one by one. */
    long max = sysconf(_SC_OPEN_MAX);
    for (unsigned fd = lo; fd <= hi && (long)fd < max; fd++) (void)close((int)fd);
    return 0;
}

int close_fds_except(const int *keep, int n)
{
    int sorted[8];
    if (n > 8) return fail_errno("close fds", EINVAL, "%d descriptors to keep", n);
    memcpy(sorted, keep, sizeof(int) * (size_t)n);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            int t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    unsigned lo = 3;
    for (int i = 0; i < n; i++) {
        if (sorted[i] < (int)lo) continue;
        if (close_span(lo, (unsigned)sorted[i] - 1) < 0) return fail("close fds", "close_range %u-%d", lo, sorted[i] - 1);
        lo = (unsigned)sorted[i] + 1;
    }
    if (close_span(lo, ~0U) < 0) return fail("close fds", "close_range %u-max", lo);
    return 0;
}
