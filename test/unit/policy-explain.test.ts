/** `grantline policy explain`: what the policy would do, read-only, from the same functions the workflow runs. */
import { describe, expect, it } from 'vitest';
import { explainPolicy, explanationText } from '../../shared/policy-explain.js';
import { testCatalog } from '../support/catalog.js';
import { Directory, ELI, MARIA } from '../support/fakes.js';

const catalog = testCatalog();
const now = new Date('2026-03-02T09:00:00.000Z');
const explain = (directory: Directory | undefined, input: Parameters<typeof explainPolicy>[1]) => explainPolicy({ catalog, idp: () => directory, now }, input);

describe('policy explain', () => {
  it('names each step, its approvers and why, who can never decide, the deadline and the expiry', async () => {
    const e = await explain(new Directory(), { requester: ELI, subject: ELI, app: 'Salesforce', role: 'admin', duration: 'PT6H' });

    expect(e.outcome).toBe('approval');
    expect(e.steps).toEqual([
      { step: 1, kind: 'manager', approvers: [MARIA], quorum: 1, why: `manager of ${ELI} (from okta)` },
      { step: 2, kind: 'app_owner', approvers: ['omar.owner@example.com'], quorum: 1, why: 'owner of Salesforce' },
    ]);
    expect(e.neverApprovers).toEqual([`${ELI} (the requester)`]);
    expect(e.approvalTimeout).toBe('PT4H (4 hours) after each step is asked; then the request is denied');
    expect(e.expires).toBe('2026-03-02T15:00:00.000Z');
    expect(explanationText(e)).toContain(`Step 1 (manager): ${MARIA}; manager of ${ELI} (from okta)`);
  });

  it('names the reminder and the escalation of an unanswered step, without the requester among those added', async () => {
    const timers = testCatalog((t) =>
      t.replace(
        'approvalTimeout: PT4H',
        'approvalTimeout: PT4H\n        remindAfter: PT1H\n        escalateAfter: PT2H\n        escalateTo: { group: security-oncall }',
      ),
    );
    const e = await explainPolicy(
      { catalog: timers, idp: () => new Directory(), now },
      { requester: 'sam.sec@example.com', subject: ELI, app: 'salesforce', role: 'admin' },
    );

    expect(e.reminder).toBe('1 hour after each step is asked, the approvers who have not decided are reminded in Slack');
    expect(e.escalation).toBe('2 hours after each step is asked, sasha.sec@example.com (member of escalation group security-oncall) can decide it as well');
    expect(explanationText(e)).toMatch(/Reminder: 1 hour after[^\n]*\nEscalation: 2 hours after[^\n]*\nUnanswered: PT4H/);
  });

  it('a manager asking for their report: the app owner decides, and both people are never approvers', async () => {
    const directory = new Directory();
    const e = await explain(directory, { requester: MARIA, subject: ELI, app: 'figma', role: 'editor' });

    expect(e.request.duration).toBe('PT24H');
    expect(e.steps.map((s) => [s.approvers, s.why])).toEqual([
      [['dana.design@example.com'], `the manager (${MARIA}) is the requester or subject, so the app owner decides`],
    ]);
    expect(e.neverApprovers).toEqual([`${MARIA} (the requester)`, `${ELI} (the person the access is for)`]);
  });

  it('warns of a step nobody can approve: the app owner decides the manager step, and may not approve the owner step too', async () => {
    const e = await explain(new Directory(), { requester: MARIA, subject: ELI, app: 'salesforce', role: 'admin', duration: 'PT1H' });

    expect(e.steps.map((s) => s.approvers)).toEqual([['omar.owner@example.com'], ['omar.owner@example.com']]);
    expect(e.warnings).toEqual([expect.stringMatching(/^step 2 can never be approved: omar\.owner@example\.com must approve an earlier step/)]);
    expect(explanationText(e)).toContain('WARNING: step 2 can never be approved');
  });

  it('an end date caps the expiry; a passed one, or a deactivated account, denies as planning would', async () => {
    const directory = new Directory();
    directory.users[ELI] = { ...directory.users[ELI]!, endDate: '2026-03-10' };
    const capped = await explain(directory, { requester: ELI, subject: ELI, app: 'figma', role: 'editor', duration: 'permanent' });
    directory.users[ELI] = { ...directory.users[ELI]!, endDate: '2026-03-01' };
    const ended = await explain(directory, { requester: ELI, subject: ELI, app: 'figma', role: 'editor' });
    directory.users[ELI] = { ...directory.users[ELI]!, endDate: undefined, active: false };
    const inactive = await explain(directory, { requester: ELI, subject: ELI, app: 'figma', role: 'editor' });

    expect(capped.expires).toBe('2026-03-11T00:00:00.000Z (capped by the end date 2026-03-10 from Okta endDate)');
    expect(ended).toMatchObject({ outcome: 'denied', reason: expect.stringContaining('contract ends 2026-03-01') });
    expect(inactive).toMatchObject({ outcome: 'denied', reason: `${ELI}'s okta account is deactivated or suspended` });
  });

  it('auto-approval and an invalid request say so; nothing is read from the provider for an invalid one', async () => {
    const auto = await explain(new Directory(), { requester: ELI, subject: ELI, app: 'notion', role: 'member' });
    const invalid = await explain(undefined, { requester: ELI, subject: ELI, app: 'salesforce', role: 'admin', duration: 'P7D' });

    expect(auto).toMatchObject({ outcome: 'auto-approved', expires: 'never (permanent)', grantsVia: 'okta group 00gnotionmember' });
    expect(invalid).toMatchObject({ outcome: 'invalid', problems: ['duration P7D (7 days) is longer than the maximum PT24H for Salesforce admin'] });
    expect(explanationText(invalid)).toContain('Refused as filed:');
  });
});
