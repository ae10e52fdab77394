/* Capability sets through the raw syscalls: no libcap. Masks are bit per capability number. */
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "caps.h"
#include "kernel.h"
#include "util.h"

int caps_bound(uint64_t keep)
{
    for (int cap = 0; cap < 64; cap++) {
        if ((keep >> cap) & 1u) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
            /* EINVAL: past the last capability this kernel knows. */
            if (errno == EINVAL) break;
            return fail("capabilities", "drop %d from the bounding set", cap);
        }
    }
    return 0;
}

int caps_set(uint64_t effective, uint64_t permitted, uint64_t inheritable)
{
    struct k_cap_header h = {K_CAP_VERSION_3, 0};
    struct k_cap_data d[2];
    memset(d, 0, sizeof(d));
    for (int i = 0; i < 2; i++) {
        d[i].effective = (uint32_t)(effective >> (32 * i));
        d[i].permitted = (uint32_t)(permitted >> (32 * i));
        d[i].inheritable = (uint32_t)(inheritable >> (32 * i));
    }
    if (syscall(SYS_capset, &h, d) < 0)
        return fail("capabilities", "capset effective 0x%llx permitted 0x%llx inheritable 0x%llx",
                    (unsigned long long)effective, (unsigned long long)permitted,
                    (unsigned long long)inheritable);
    return 0;
}

int caps_ambient(uint64_t ambient)
{
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return fail("capabilities", "clear ambient set");
    for (int cap = 0; cap < 64; cap++) {
        if (!((ambient >> cap) & 1u)) continue;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
            return fail("capabilities", "raise ambient %d", cap);
    }
    return 0;
}
