// The name of corral's parent cgroup when nothing else is configured. Kept apart from owner.ts
// (which binds libc for xattrs) so that the CLI can name a parent without loading the driver.

export const DEFAULT_PARENT_NAME = 'corral';
