// "The agent" for crash tests: a separate node process that runs the runtime from a transpiled
// copy of src/ (Node 20 cannot load TypeScript), starts one container, prints its record as one
// JSON line and then idles until it is SIGKILLed.

import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { shimPath } from '../../../src/drivers/namespaces/shim.js';

const REPO = join(import.meta.dirname ?? dirname(new URL(import.meta.url).pathname), '../../..');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? (n === 'shim' ? [] : walk(p)) : (p.endsWith('.ts') && !p.endsWith('.d.ts')) || p.endsWith('.json') ? [p] : [];
  });
}

/**
 * src/ transpiled to JS under .scratch (inside the repo, so node_modules resolves), with the data
 * files the sources read at run time (the default seccomp profile) copied beside them.
 */
export function transpileSources(): { dir: string; cleanup(): void } {
  mkdirSync(join(REPO, '.scratch'), { recursive: true });
  const dir = mkdtempSync(join(REPO, '.scratch', 'corral-agent-'));
  for (const file of walk(join(REPO, 'src'))) {
    if (file.endsWith('.json')) {
      const dest = join(dir, relative(REPO, file));
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(file, dest);
      continue;
    }
    const out = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
    }).outputText;
    const dest = join(dir, relative(REPO, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, out);
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const CHILD = `
import { buildSpawnSpec } from './src/drivers/namespaces/spec.js';
import { start } from './src/drivers/namespaces/runtime.js';
const input = JSON.parse(process.env.CORRAL_AGENT_INPUT);
const record = await start(buildSpawnSpec(input));
process.stdout.write(JSON.stringify(record) + '\\n');
setInterval(() => undefined, 1 << 30);
`;

export interface AgentChild {
  readonly child: ChildProcess;
  readonly record: Promise<unknown>;
}

export function spawnAgent(transpiled: string, input: unknown): AgentChild {
  const script = join(transpiled, 'agent.mjs');
  writeFileSync(script, CHILD);
  const child = spawn(process.execPath, [script], { env: { ...process.env, CORRAL_SHIM: shimPath(), CORRAL_AGENT_INPUT: JSON.stringify(input) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const record = new Promise<unknown>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)));
    });
    child.once('exit', (code) => reject(new Error(`agent child exited with ${code} before printing a record`)));
  });
  return { child, record };
}
