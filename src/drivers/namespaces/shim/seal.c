/* Running from a sealed memfd (see seal.h). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kernel.h"
#include "seal.h"
#include "util.h"

extern char **environ;

#define REEXEC_MARK "CORRAL_SHIM_SEALED=1"

static int exe_is_sealed(void)
{
    cleanup_fd int fd = (int)RETRY(open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (fd < 0) return -1;
    int seals = fcntl(fd, K_F_GET_SEALS);
    /* EINVAL: not a memfd (a file on disk). */
    return seals >= 0 && (seals & K_SEALED) == K_SEALED;
}

static int sealed_copy(void)
{
    cleanup_fd int src = (int)RETRY(open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (src < 0) return fail("seal", "open /proc/self/exe");
    int mfd = (int)syscall(SYS_memfd_create, "corral-shim", K_MFD_CLOEXEC | K_MFD_ALLOW_SEALING | K_MFD_EXEC);
    /* MFD_EXEC is 6.3+; older kernels refuse the flag and make executable memfds anyway. */
    if (mfd < 0 && errno == EINVAL) mfd = (int)syscall(SYS_memfd_create, "corral-shim", K_MFD_CLOEXEC | K_MFD_ALLOW_SEALING);
    if (mfd < 0) return fail("seal", "memfd_create");
    static char buf[65536];
    for (;;) {
        ssize_t n = RETRY(read(src, buf, sizeof(buf)));
        if (n < 0) {
            close(mfd);
            return fail("seal", "read /proc/self/exe");
        }
        if (n == 0) break;
        if (write_all(mfd, buf, (size_t)n) < 0) {
            close(mfd);
            return fail("seal", "write memfd");
        }
    }
    if (fcntl(mfd, K_F_ADD_SEALS, K_SEALED) < 0) {
        close(mfd);
        return fail("seal", "add seals");
    }
    return mfd;
}

int ensure_sealed(char **argv)
{
    int sealed = exe_is_sealed();
    if (sealed == 1) return 0;
    if (sealed < 0) return fail("seal", "open /proc/self/exe");
    for (char **e = environ; e && *e; e++)
        if (!strcmp(*e, REEXEC_MARK)) return fail_errno("seal", EPERM, "re-executed from a memfd, still not sealed");
    int mfd = sealed_copy();
    if (mfd < 0) return -1;
    size_t n = 0;
    while (environ && environ[n]) n++;
    char **env = calloc(n + 2, sizeof(char *));
    if (!env) return fail("seal", "allocate environment");
    memcpy(env, environ, n * sizeof(char *));
    env[n] = (char *)REEXEC_MARK;
    syscall(SYS_execveat, mfd, "", argv, env, AT_EMPTY_PATH);
    int err = errno;
    free(env);
    close(mfd);
    return fail_errno("seal", err, "execute the sealed copy");
}
