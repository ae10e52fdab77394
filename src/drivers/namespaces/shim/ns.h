#ifndef CORRAL_NS_H
#define CORRAL_NS_H

#include <sys/types.h>
#include "spec.h"

/* clone3 with the spec's namespace flags (CLONE_NEWCGROUP is left for the child, after it is
 * placed); into cgroup_dir when given. Returns the pid in the parent, 0 in the child. */
pid_t ns_clone(const struct spec *s, int join_pidfd);
/* Parent side: uid/gid maps of the child's user namespace. */
int ns_write_maps(const struct spec *s, pid_t child);
/* Writes pid into every cgroup.procs file of the spec. */
int ns_join_cgroups(const struct spec *s, pid_t pid);
/* The monitor's own placement: its pid into every MONITOR_CGROUP_PROCS file, then its
 * oom_score_adj. Called after the clone, so the container's first process keeps its own value. */
int ns_place_monitor(const struct spec *s);
/* Child side: sets `lo` up in the current network namespace. */
int ns_loopback_up(void);

/* The spec's oom_score_adj, set on the child from outside (before it runs anything). */
int ns_oom_score_adj(const struct spec *s, pid_t child);

#endif
