// The dependency scheduler of apply: runs jobs with at most `parallelism` at once, each after the
// jobs it waits for. When one of those failed, a job that needs it is reported as blocked instead
// of run. Pure (no host, no clock): it only orders promises, and is tested alone.

export interface Job {
  readonly name: string;
  /** Names of jobs that must finish first (names without a job are ignored). */
  readonly waitsFor: readonly string[];
  /** Whether a failure among `waitsFor` blocks this job (a start needs what it depends on; a stop does not). */
  readonly needsSuccess: boolean;
}

export interface Outcome {
  readonly ok: boolean;
}

/**
 * Runs `run(job, blockedBy)` for each job; `blockedBy` names the failed job this one needed, and
 * `run` is expected to report rather than act then. Once `signal` fires, nothing new starts and
 * the jobs in flight are awaited. Results come back in the jobs' order (aborted ones are absent).
 */
export async function schedule<J extends Job, R extends Outcome>(
  jobs: readonly J[],
  parallelism: number,
  signal: AbortSignal,
  run: (job: J, blockedBy: string | null) => Promise<R>,
): Promise<R[]> {
  const names = new Set(jobs.map((j) => j.name));
  const waits = new Map(jobs.map((j) => [j.name, j.waitsFor.filter((d) => names.has(d) && d !== j.name)]));
  const done = new Map<string, R>();
  const running = new Map<string, Promise<void>>();
  const queue = [...jobs];
  while (queue.length > 0 || running.size > 0) {
    if (signal.aborted) {
      await Promise.all(running.values());
      break;
    }
    let started = false;
    for (const job of [...queue]) {
      if (running.size >= Math.max(1, parallelism)) break;
      const deps = waits.get(job.name)!;
      if (!deps.every((d) => done.has(d))) continue;
      const failed = job.needsSuccess ? deps.find((d) => !done.get(d)!.ok) ?? null : null;
      queue.splice(queue.indexOf(job), 1);
      started = true;
      running.set(job.name, run(job, failed).then((r) => {
        done.set(job.name, r);
        running.delete(job.name);
      }));
    }
    if (!started) {
      if (running.size === 0) {
        // Only a dependency cycle leaves work that never becomes ready: run it anyway, in order.
        const job = queue.shift()!;
        done.set(job.name, await run(job, null));
      } else {
        await Promise.race(running.values());
      }
    }
  }
  return jobs.filter((j) => done.has(j.name)).map((j) => done.get(j.name)!);
}
