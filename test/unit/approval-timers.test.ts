/**
 * Reminders and escalation of an unanswered step (shared/approval.ts approvalTimer, nextTimer), as
 * the people involved see them: the reminder DMs, who may decide after the escalation, the evidence
 * on the Jira issue, and how long the workflow waits for the next timer after a restart.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advance, approvalTimer, decide, requestApproval } from '../../shared/approval.js';
import { parseCatalog } from '../../shared/catalog/load.js';
import type { ManualClock } from '../../shared/clock.js';
import type { EvidenceEvent } from '../../shared/grants/model.js';
import { submitRequest } from '../../shared/intake.js';
import type { LifecycleDeps } from '../../shared/services.js';
import type { TestDynamo } from '../support/dynamo.js';
import { ELI, MARIA, type Recorder, startUnitWorld } from '../support/fakes.js';
import { testCatalog } from '../support/harness.js';

const SAM = 'sam.sec@example.com';
const SASHA = 'sasha.sec@example.com';
const HOUR = 3_600_000;

/** Salesforce admin: manager, then app owner; asked for 4 hours, reminded after 1, escalated to security on-call after 2. */
const TIMERS = (t: string) =>
  t.replace(
    'approvalTimeout: PT4H',
    'approvalTimeout: PT4H\n        remindAfter: PT1H\n        escalateAfter: PT2H\n        escalateTo: { group: security-oncall }',
  );

let dynamo: TestDynamo;
let clock: ManualClock;
let ports: Recorder;
let deps: LifecycleDeps;

beforeEach(async () => {
  ({ dynamo, clock, ports, deps } = await startUnitWorld());
  deps = { ...deps, catalog: testCatalog(TIMERS) };
});
afterEach(async () => dynamo.close());

async function requestAdmin(issueKey = 'ACC-7'): Promise<string> {
  return (await requestFor(issueKey, 'salesforce', 'admin', 'PT1H')).id;
}

function requestFor(issueKey: string, app: string, role: string, duration: string) {
  return submitRequest(deps, { issueKey, requester: ELI, subject: ELI, app, role, duration, justification: 'incident', source: 'jira' });
}

async function evidence(grantId: string, type: EvidenceEvent['type']): Promise<string[]> {
  return (await dynamo.store.evidence(grantId)).filter((e) => e.type === type).map((e) => e.summary);
}

const dmsTo = (email: string) => ports.notices.filter((n) => n.to === `U-${email}`).map((n) => n.text);

describe('an unanswered step', () => {
  it('is reminded, then escalated, then decided by an escalation approver; the workflow waits for each timer in turn', async () => {
    const id = await requestAdmin();
    expect(await advance(deps, id)).toMatchObject({ next: 'approval', step: 0, timer: 'remind', waitSeconds: 3_600 });
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't1' });

    clock.advance(HOUR);
    await approvalTimer(deps, { grantId: id, step: 0, timer: 'remind' });
    expect(dmsTo(MARIA)).toEqual([
      expect.stringMatching(/^Reminder: ACC-7, Salesforce admin for eli.engineer@example.com, still waits for your decision \(asked 1 hour ago\)/),
    ]);
    expect(await evidence(id, 'approval_reminded')).toEqual([`reminded ${MARIA}: no decision 1 hour after asking (step 1 of 2)`]);
    // A SAM click now is refused: the step is not escalated yet.
    expect(await decide(deps, { grantId: id, step: 0, decision: 'approved', clickerEmail: SAM, clickerRef: 'U-sam', via: 'slack' })).toMatchObject({
      outcome: 'refused',
    });

    expect(await advance(deps, id)).toMatchObject({ next: 'approval', timer: 'escalate', waitSeconds: 3_600 });
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't2' });
    clock.advance(HOUR);
    await approvalTimer(deps, { grantId: id, step: 0, timer: 'escalate' });
    expect(await evidence(id, 'approval_escalated')).toEqual([`escalated to ${SAM}, ${SASHA}: no decision 2 hours after asking (step 1 of 2)`]);
    expect(ports.publicComments).toContain(`Nobody decided in time, so your request was escalated: ${SAM}, ${SASHA} can now decide it as well.`);

    // The deadline stays 4 hours after the step was asked; re-entering the wait asks the added approvers.
    expect(await advance(deps, id)).toMatchObject({ next: 'approval', timer: 'deadline', waitSeconds: 7_200 });
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't3' });
    expect((await dynamo.store.getApproval(id, 0))?.messages.map((m) => m.approver)).toEqual([MARIA, SAM, SASHA]);
    expect(await dynamo.store.pendingApprovalsFor(SAM)).toEqual([{ grantId: id, step: 0 }]);

    expect(await decide(deps, { grantId: id, step: 0, decision: 'approved', clickerEmail: SAM, clickerRef: 'U-sam', via: 'slack' })).toEqual({
      outcome: 'recorded',
      decision: 'approved',
    });
    expect(ports.completed.at(-1)).toEqual({ token: 't3', decision: 'approved' });
    // Step 2 (the app owner) starts its own timers from when it is asked.
    expect(await advance(deps, id)).toMatchObject({ next: 'approval', step: 1, timer: 'remind', waitSeconds: 3_600 });
  });

  it('each timer acts once: a retried or replayed timer sends no second reminder and adds nobody twice', async () => {
    const id = await requestAdmin();
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't1' });
    clock.advance(2 * HOUR);
    await approvalTimer(deps, { grantId: id, step: 0, timer: 'remind' });
    await approvalTimer(deps, { grantId: id, step: 0, timer: 'remind' });
    await approvalTimer(deps, { grantId: id, step: 0, timer: 'escalate' });
    await approvalTimer(deps, { grantId: id, step: 0, timer: 'escalate' });

    expect(dmsTo(MARIA)).toHaveLength(1);
    expect((await dynamo.store.getApproval(id, 0))?.approvers).toEqual([MARIA, SAM, SASHA]);
    expect(await evidence(id, 'approval_escalated')).toHaveLength(1);
  });

  it('after a restart the wait resumes at the timer that is due: overdue timers fire at once, in order', async () => {
    const id = await requestAdmin();
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't1' });
    clock.advance(2.5 * HOUR); // the process was down past both the reminder and the escalation

    expect(await advance(deps, id)).toMatchObject({ timer: 'remind', waitSeconds: 1 });
    await approvalTimer(deps, { grantId: id, step: 0, timer: 'remind' });
    expect(await advance(deps, id)).toMatchObject({ timer: 'escalate', waitSeconds: 1 });
    await approvalTimer(deps, { grantId: id, step: 0, timer: 'escalate' });
    expect(await advance(deps, id)).toMatchObject({ timer: 'deadline', waitSeconds: 5_400 });
  });

  it('a step decided before its timer fired is left alone', async () => {
    const id = await requestAdmin();
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't1' });
    await decide(deps, { grantId: id, step: 0, decision: 'denied', clickerEmail: MARIA, clickerRef: 'U-maria', via: 'slack' });
    clock.advance(2 * HOUR);
    await approvalTimer(deps, { grantId: id, step: 0, timer: 'remind' });
    await approvalTimer(deps, { grantId: id, step: 0, timer: 'escalate' });

    expect(dmsTo(MARIA)).toEqual([]);
    expect((await dynamo.store.getApproval(id, 0))?.approvers).toEqual([MARIA]);
    expect(await evidence(id, 'approval_escalated')).toEqual([]);
  });

  it('the escalation never adds the requester or the person the access is for', async () => {
    deps = { ...deps, catalog: testCatalog((t) => TIMERS(t).replace('        escalateTo: { group: security-oncall }', `        escalateTo: ${ELI}`)) };
    const id = await requestAdmin();
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't1' });
    clock.advance(2 * HOUR);
    await approvalTimer(deps, { grantId: id, step: 0, timer: 'escalate' });

    expect((await dynamo.store.getApproval(id, 0))?.approvers).toEqual([MARIA]);
    expect(await evidence(id, 'approval_escalated')).toEqual([
      `escalation found nobody new to ask (${ELI}: already asked, the requester or the subject) (step 1 of 2)`,
    ]);
  });

  it('a role without timers waits for its deadline only', async () => {
    deps = { ...deps, catalog: testCatalog() };
    const id = await requestAdmin();
    expect(await advance(deps, id)).toMatchObject({ timer: 'deadline', waitSeconds: 14_400 });
  });
});

describe('catalog validation of reminders and escalation', () => {
  const problems = (edit: (t: string) => string) => {
    const result = parseCatalog(edit(readCatalog()));
    return result.ok ? [] : result.problems.map((p) => `line ${p.line}, ${p.path}: ${p.message}`);
  };
  const readCatalog = () => TIMERS(testCatalogText());

  it('accepts reminders and escalation set in defaults, and a role that overrides them', () => {
    expect(
      problems((t) =>
        t.replace(
          '  approvalTimeout: PT24H\n',
          '  approvalTimeout: PT24H\n  remindAfter: PT8H\n  escalateAfter: PT12H\n  escalateTo: ivan.infra@example.com\n',
        ),
      ),
    ).toEqual([]);
  });

  it("a default reminder longer than a role's approval timeout is not used for that role", async () => {
    deps = { ...deps, catalog: testCatalog((t) => t.replace('  approvalTimeout: PT24H\n', '  approvalTimeout: PT24H\n  remindAfter: PT8H\n')) };
    expect((await requestFor('ACC-8', 'admin-console', 'break-glass', 'PT1H')).approvalTimers).toBeUndefined();
    const editor = await requestFor('ACC-9', 'figma', 'editor', 'PT24H');
    expect(editor.approvalTimers).toEqual({ remindAfterSeconds: 8 * 3600 });
  });

  it('refuses a timer that would never fire, an escalation without a target, and an unknown group, at their lines', () => {
    expect(problems((t) => t.replace('remindAfter: PT1H', 'remindAfter: PT4H'))).toEqual([
      expect.stringMatching(/^line \d+, apps.salesforce.roles.admin.remindAfter: remindAfter PT4H must be shorter than approvalTimeout PT4H/),
    ]);
    expect(problems((t) => t.replace('\n        escalateTo: { group: security-oncall }', ''))).toEqual([
      expect.stringMatching(/^line \d+, apps.salesforce.roles.admin.escalateAfter: escalateAfter needs escalateTo: an email or \{group: name\}$/),
    ]);
    expect(problems((t) => t.replace('        escalateTo: { group: security-oncall }', '        escalateTo: { group: nobody }'))).toEqual([
      expect.stringMatching(/^line \d+, apps.salesforce.roles.admin.escalateTo.group: unknown approver group "nobody"/),
    ]);
  });
});

function testCatalogText(): string {
  return readFileSync(new URL('../../catalog.yaml', import.meta.url), 'utf8');
}
