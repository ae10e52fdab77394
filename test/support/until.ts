// Polls a probe until it returns something truthy: the one way tests wait for an agent or a
// container to get somewhere. A probe that throws counts as not yet; on timeout the error names
// what was awaited, the last answer, and what `context` adds (an agent's log tail).

export async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs: number, context: () => string = () => ''): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = probe();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${String(last)})\n${context()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
