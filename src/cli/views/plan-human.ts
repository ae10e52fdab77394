// Renders a Report for people, the way `terraform plan` does: one block per container with its
// symbol, action and reasons, then a summary line. Colour only on a TTY. Decisions (what to show,
// what to summarize) go by reason code; the reasons' text is only printed.

import { ACTIONS, type Action } from '../../reconciler/plan/types.js';
import type { Color, Styler } from '../style.js';
import { plural, renderDiagnostic } from './diagnostics.js';
import type { Report } from './plan-json.js';

const COLORS: Record<Action, Color> = {
  create: 'green', start: 'green', update: 'yellow', restart: 'magenta', recreate: 'magenta', stop: 'red', remove: 'red', none: 'dim',
};

export const SUMMARY_ORDER: readonly Action[] = ['create', 'start', 'update', 'restart', 'recreate', 'stop', 'remove'];

export function summaryLine(report: Report): string {
  const containers = SUMMARY_ORDER.map((a) => `${report.summary[a]} to ${a}`).join(', ');
  const networks = report.networks.filter((n) => n.action !== 'none');
  if (networks.length === 0) return containers;
  const counts = (['create', 'update', 'recreate', 'remove'] as const).map((a) => [a, networks.filter((n) => n.action === a).length] as const).filter(([, n]) => n > 0);
  return `${containers}; ${plural(networks.length, 'network')}: ${counts.map(([a, n]) => `${n} to ${a}`).join(', ')}`;
}

export function renderReport(report: Report, style: Styler, verbose = false): string {
  const out: string[] = [];
  for (const d of [...report.errors, ...report.warnings]) out.push(renderDiagnostic(d, style), '');
  const shown = report.actions.filter((a) => a.action !== 'none' || verbose || a.reasons.some((r) => r.code !== 'up-to-date'));
  if (shown.length > 0 || report.networks.some((x) => x.action !== 'none')) out.push(report.applied ? 'corral performed these actions:' : 'corral will perform these actions:', '');
  // First, as they happen first: each is pulled by the first start that needs it.
  for (const p of report.pulls) {
    out.push(`  ${style('cyan', '⇣')} ${style('cyan', 'pull'.padEnd(8))} ${style('bold', p.reference)} ${style('dim', `(image, for ${p.containers.join(', ')})`)}`);
    out.push(`        ${style('dim', p.reason.text)}`);
  }
  for (const a of shown) {
    const symbol = style(COLORS[a.action], ACTIONS[a.action]);
    const status = a.result ? (a.result.ok ? style('green', ' ✓') : style('red', ` ✗ ${a.result.error ?? 'failed'}`)) : '';
    out.push(`  ${symbol} ${style(COLORS[a.action], a.action.padEnd(8))} ${style('bold', a.name)}${status}`);
    for (const reason of a.reasons) out.push(`        ${style('dim', reason.text)}`);
    for (const w of a.warnings) out.push(`        ${style('yellow', `warning: ${w}`)}`);
  }
  for (const n of report.networks.filter((x) => x.action !== 'none' || verbose || x.reasons.some((r) => r.code !== 'up-to-date'))) {
    const action = n.action;
    const status = n.result ? (n.result.ok ? style('green', ' ✓') : style('red', ` ✗ ${n.result.error ?? 'failed'}`)) : '';
    const where = n.bridge ? style('dim', ` (network: bridge ${n.bridge}, ${n.subnet})`) : style('dim', ' (network)');
    out.push(`  ${style(COLORS[action], ACTIONS[action])} ${style(COLORS[action], action.padEnd(8))} ${style('bold', n.name)}${where}${status}`);
    for (const reason of n.reasons) out.push(`        ${style('dim', reason.text)}`);
  }
  for (const o of report.orphans) out.push(`  ${style('red', '-')} ${style('red', 'cleanup ')} ${style('bold', o.name)} ${style('dim', `(${o.kind}: ${o.detail})`)}`);
  const networksShown = report.networks.some((x) => x.action !== 'none' || verbose || x.reasons.some((r) => r.code !== 'up-to-date'));
  if (shown.length > 0 || networksShown || report.orphans.length > 0) out.push('');
  const verb = report.applied ? 'Applied' : 'Plan';
  const tail = report.orphans.length ? `, ${plural(report.orphans.length, 'orphan')} to clean up` : '';
  const failed = report.actions.filter((a) => a.result && !a.result.ok).length;
  // A container waiting for a retry is no change, but never "the host matches the manifests".
  const failing = failingLine(report);
  let failingSaid = false;
  if (report.changed || report.orphans.length) out.push(`${style('bold', `${verb}:`)} ${summaryLine(report)}${tail}.`);
  else if (failed === 0 && report.errors.length === 0 && failing) {
    out.push(`${style('yellow', 'No changes;')} ${style('red', failing)}.`);
    failingSaid = true;
  } else if (failed === 0 && report.errors.length === 0) out.push(`${style('green', 'No changes.')} The host matches the manifests.`);
  else if (failed === 0) out.push(style('yellow', 'No changes made: see the errors above.'));
  if (failing && !failingSaid) out.push(style('red', `${failing}.`));
  if (report.withoutUserNamespace.length > 0) {
    out.push(style('dim', `Without a user namespace (root inside is root on the host): ${report.withoutUserNamespace.join(', ')}.`));
  }
  if (failed > 0) out.push(style('red', `${plural(failed, 'action')} failed; the next run retries with backoff.`));
  if (!report.complete) out.push(style('yellow', 'Some manifests have errors: their containers keep their last applied spec.'));
  return out.join('\n');
}

/** `1 container failing: web (the last start failed: …; retry in 8s)`, or '' when none is. */
export function failingLine(report: Report): string {
  if (report.failing.length === 0) return '';
  const byName = new Map(report.actions.map((a) => [a.name, a]));
  const each = report.failing.map((name) => {
    const why = byName.get(name)?.reasons[0]?.text;
    return why ? `${name} (${why})` : name;
  });
  return `${plural(report.failing.length, 'container')} failing: ${each.join(', ')}`;
}
