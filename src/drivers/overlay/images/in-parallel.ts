// Layers are independent: inflate runs on libuv's thread pool, so unpacking two or three at once
// uses the cores a sequential loop leaves idle (bench/pull).

/** Layers worked on at once (downloads, unpacks). */
export const PARALLEL_LAYERS = 3;

/** Runs `work` on each item, at most `limit` at a time; the first failure is thrown once all settle. */
export async function inParallel<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length && errors.length === 0) {
      const index = next++;
      try {
        await work(items[index]!, index);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}
