// Sorting by code unit, not by locale: the first String#localeCompare of a process loads ICU's
// collator (~10 ms, most of a short `corral ps`), and device names and rule types are ASCII.

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
