// Why a change is planned (Terraform's ActionReason): a closed set of codes, each reason with the
// words people read beside it. Code decides (events, metrics, summaries, exit codes); text only
// explains, and only the views read it. Pure.

/** Every reason code, with what it means. Adding one is a change of the plan JSON format. */
export const REASON_CODES = [
  'new-manifest', // a manifest for a container this host does not run yet: create it
  'manifest-changed', // the manifest changed a field (one reason per field), or the changed spec is started
  'record-outdated', // the record predates this corral version: it is rewritten, nothing else changes
  'drift', // a limit was changed on the host by hand (one reason per field): it is restored
  'cgroup-missing', // the container runs but its cgroup disappeared, so its limits are not enforced
  'monitor-lost', // the container runs but its monitor died, so its exit and output would be lost
  'health-failed', // its health checks failed and its healthcheck says onFailure: restart
  'exited', // its process exited (with a code, or how is not recorded)
  'killed', // its process was killed by a signal
  'oom-killed', // its process was killed by the OOM killer
  'exit-unknown', // it ended while no monitor watched it: how is unknown
  'not-running', // it should run but does not, and no exit explains it (a reboot, a stop)
  'stopped-by-hand', // `corral stop` stopped it: it stays stopped, or runs when it should not
  'start-failed', // its last start failed: retried now or after a backoff
  'create-interrupted', // a create was interrupted (corral crashed): the container is rebuilt
  'removal-interrupted', // a removal was interrupted: it is finished, or rebuilt if the manifest is back
  'record-unknown', // its state record cannot be read: nothing of it is touched until it is repaired
  'record-repaired', // its record was rebuilt by `corral state repair`: it restarts with its manifest's spec
  'manifest-invalid', // its manifest has errors: it keeps its last applied spec
  'host-unsupported', // this host cannot apply its manifest (a host check failed): it is left as is
  'prune-refused', // its manifest is gone but the manifest set is empty or missing: not pruned
  'manifest-removed', // its manifest was removed: the container is removed
  'selects-other-hosts', // its manifest now selects other hosts: the container is removed here
  'up-to-date', // the host runs what its manifest says: nothing to do
  'network-changed', // the network it joined is rebuilt (subnet, gateway or bridge changed): it restarts on the new one
  'network-in-use', // a network to remove or rebuild is still joined by a container that stays: it waits
  'network-missing', // the network it joins does not exist and cannot be made now (its manifest has errors): not started
  'requested', // an imperative command (`corral start`, `stop`, `restart`) asked for it
] as const;

export type ReasonCode = (typeof REASON_CODES)[number];

export interface Reason {
  /** What decides: events, metrics, summaries and exit codes switch on it. */
  readonly code: ReasonCode;
  /** The words for people. Only views read it. */
  readonly text: string;
}

export function reason(code: ReasonCode, text: string): Reason {
  return { code, text };
}

