// The words of events: messages made of a plan's reasons. Like the views of the CLI, this is the
// only place under src/agent that reads a reason's `text`, and it decides nothing: which event a
// change makes is chosen by reason code (./events.ts).

import type { Change, NetworkChange } from '../reconciler/plan/types.js';

/** `restart: its cgroup disappeared: limits are not enforced`. */
export function actionMessage(change: Change): string {
  return `${change.action}: ${change.reasons[0]?.text ?? ''}`;
}

/** `network create: new manifest`. */
export function networkMessage(change: NetworkChange): string {
  return `network ${change.action}: ${change.reasons[0]?.text ?? ''}`;
}
