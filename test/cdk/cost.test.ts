/**
 * The cost section of docs/deploy.md counts state transitions and Lambda invocations per grant.
 * These are computed here by walking the real ASL file along each path a grant can take, and the
 * document must show the same numbers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ASL_FILE, REPO_ROOT } from '../../infra/cdk/paths.js';

interface AslState {
  Type: 'Task' | 'Choice' | 'Succeed' | 'Fail' | 'Pass' | 'Wait';
  Next?: string;
  Default?: string;
  Choices?: Array<{ Variable: string; StringEquals?: string; BooleanEquals?: boolean; Next: string }>;
  Catch?: Array<{ ErrorEquals: string[]; Next: string }>;
  ResultPath?: string | null;
}

interface Asl {
  StartAt: string;
  States: Record<string, AslState>;
}

/** What the tasks answer along one path: Advance's `next` each time, each approval's outcome, Provision's answer. */
interface Path {
  advance: Array<'approval' | 'provision' | 'end'>;
  approvals: Array<'decided' | 'timeout'>;
  timeBound: boolean;
  /** A break-glass grant, its review confirmed by a click in Slack. */
  breakGlass?: boolean;
}

function walk(asl: Asl, path: Path): string[] {
  const advance = [...path.advance];
  const approvals = [...path.approvals];
  const data: Record<string, unknown> = {};
  const entered: string[] = [];
  let name: string | undefined = asl.StartAt;
  while (name) {
    const state: AslState | undefined = asl.States[name];
    if (!state) throw new Error(`no state ${name}`);
    entered.push(name);
    if (entered.length > 100) throw new Error('loop');
    if (state.Type === 'Succeed' || state.Type === 'Fail') break;
    if (state.Type === 'Choice') {
      const match: { Next: string } | undefined = state.Choices!.find((c) => {
        const value = c.Variable.replace(/^\$\./, '')
          .split('.')
          .reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], data);
        return c.StringEquals !== undefined ? value === c.StringEquals : value === c.BooleanEquals;
      });
      name = match?.Next ?? state.Default;
      continue;
    }
    if (name === 'Advance') data.Payload = { next: advance.shift() };
    if (name === 'Provision') data.provision = { scheduleRevocation: path.timeBound, breakGlassReview: Boolean(path.breakGlass) };
    if (name === 'ReviewDue') data.reviewed = { revoke: false };
    if (name === 'RequestApproval' && approvals.shift() === 'timeout') {
      name = state.Catch!.find((c) => c.ErrorEquals.includes('States.Timeout'))!.Next;
      continue;
    }
    name = state.Next;
  }
  return entered;
}

const asl = JSON.parse(readFileSync(ASL_FILE, 'utf8')) as Asl;

/** Lambda invocations outside the state machine: the intake webhook, one Slack click per decided step (and the break-glass review's), the revocation. */
function invocations(path: Path, states: string[]): number {
  const tasks = states.filter((s) => asl.States[s]!.Type === 'Task').length;
  return tasks + 1 + path.approvals.filter((a) => a === 'decided').length + (path.breakGlass ? 1 : 0) + (path.timeBound ? 1 : 0);
}

const PATHS: Record<string, Path> = {
  'auto-approved, time-bound': { advance: ['provision'], approvals: [], timeBound: true },
  'one approval step, time-bound': { advance: ['approval', 'provision'], approvals: ['decided'], timeBound: true },
  'two approval steps, time-bound': { advance: ['approval', 'approval', 'provision'], approvals: ['decided', 'decided'], timeBound: true },
  'one approval step, permanent': { advance: ['approval', 'provision'], approvals: ['decided'], timeBound: false },
  'denied at the first step': { advance: ['approval', 'end'], approvals: ['decided'], timeBound: false },
  'nobody decides (approval times out)': { advance: ['approval', 'end'], approvals: ['timeout'], timeBound: false },
  'break-glass, reviewed in Slack': { advance: ['provision'], approvals: [], timeBound: true, breakGlass: true },
};

describe('cost per grant, from the real state machine', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'deploy.md'), 'utf8');

  it('walks the paths through the states a grant really enters', () => {
    expect(walk(asl, PATHS['one approval step, time-bound']!)).toEqual([
      'Advance',
      'Route',
      'RequestApproval',
      'Advance',
      'Route',
      'Provision',
      'NeedsRevocation',
      'ScheduleRevocation',
      'Granted',
    ]);
    expect(walk(asl, PATHS['nobody decides (approval times out)']!)).toEqual([
      'Advance',
      'Route',
      'RequestApproval',
      'ApprovalTimer',
      'Advance',
      'Route',
      'Closed',
    ]);
  });

  it.each(Object.entries(PATHS))('docs/deploy.md states the transitions and invocations of "%s"', (label, path) => {
    const states = walk(asl, path);
    const row = doc.split('\n').find((line) => line.startsWith(`| ${label} |`));
    expect(row, `docs/deploy.md has no row "| ${label} |"`).toBeDefined();
    const cells = row!.split('|').map((c) => c.trim());
    expect({ transitions: Number(cells[2]), invocations: Number(cells[3]) }).toEqual({ transitions: states.length, invocations: invocations(path, states) });
  });
});
