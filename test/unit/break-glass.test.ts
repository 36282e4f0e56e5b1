/**
 * Break-glass with review after the fact (shared/break-glass.ts), in the core with a hand-moved
 * clock: what `catalog validate` refuses, which requests intake refuses (and that each refusal is in
 * the ledger), the requester's own approval, the review opened in Slack, confirmed by a reviewer or
 * flagged at its deadline, and the audit's answer.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advance } from '../../shared/approval.js';
import { answersFor } from '../../shared/audit.js';
import { breakGlassFlag, confirmReview, openReview, reviewDue } from '../../shared/break-glass.js';
import { formatProblem, parseCatalog } from '../../shared/catalog/load.js';
import type { ManualClock } from '../../shared/clock.js';
import { ValidationError } from '../../shared/errors.js';
import type { EvidenceEvent } from '../../shared/grants/model.js';
import { submitRequest, validateRequest, type AccessRequest } from '../../shared/intake.js';
import { explainPolicy, explanationText } from '../../shared/policy-explain.js';
import { provision } from '../../shared/provisioning.js';
import { revoke } from '../../shared/revocation.js';
import type { LifecycleDeps } from '../../shared/services.js';
import type { TestDynamo } from '../support/dynamo.js';
import { type Directory, ELI, type Recorder, startUnitWorld } from '../support/fakes.js';
import { testCatalog } from '../support/harness.js';

const SAM = 'sam.sec@example.com';
const SASHA = 'sasha.sec@example.com';
const MALLORY = 'mallory.intruder@example.com';
const HOUR = 3_600_000;
const CHANNEL = 'C0SECINCIDENTS';

let dynamo: TestDynamo;
let clock: ManualClock;
let ports: Recorder;
let directory: Directory;
let deps: LifecycleDeps;

beforeEach(async () => {
  ({ dynamo, clock, ports, directory, deps } = await startUnitWorld());
});
afterEach(async () => dynamo.close());

const breakGlassRequest = (more: Partial<AccessRequest> = {}): AccessRequest => ({
  issueKey: 'ACC-42',
  requester: ELI,
  subject: ELI,
  app: 'Internal admin console',
  role: 'break-glass',
  duration: 'PT1H',
  justification: 'database failover, primary down',
  breakGlass: 'Break-glass',
  incident: 'INC-42',
  source: 'jira',
  ...more,
});

async function evidence(grantId: string, type?: EvidenceEvent['type']): Promise<EvidenceEvent[]> {
  return (await dynamo.store.evidence(grantId)).filter((e) => !type || e.type === type);
}

/** A break-glass request taken through intake, planning (the requester's approval) and provisioning. */
async function granted(request: Partial<AccessRequest> = {}): Promise<string> {
  const grant = await submitRequest(deps, breakGlassRequest(request));
  expect(await advance(deps, grant.id)).toMatchObject({ next: 'provision' });
  await provision(deps, grant.id);
  return grant.id;
}

describe('the catalog', () => {
  it("the sample's break-glass settings, and the defaults when the catalog has none", () => {
    const catalog = testCatalog();
    expect(catalog.breakGlass).toEqual({ referencePattern: '^INC-\\d+$', notifyChannel: CHANNEL, reviewWithin: 'PT24H', onUnreviewed: 'flag' });
    expect(catalog.apps['admin-console']?.roles['break-glass']?.breakGlass).toBe(true);
    const bare = parseCatalog('version: 1\napps: {}\n');
    expect(bare.ok && bare.catalog.breakGlass).toEqual({ referencePattern: '^[A-Z][A-Z0-9]+-\\d+$', reviewWithin: 'PT24H', onUnreviewed: 'flag' });
  });

  it('validate refuses, each with its line: a manual or permanent break-glass role, one nobody can review, a pattern that is no regex, a review over 14 days', () => {
    const text = `version: 1
approverGroups:
  oncall: [sam.sec@example.com]
breakGlass:
  referencePattern: '^INC-(\\d+$'     # pattern
  reviewWithin: P30D                 # review
  onUnreviewed: delete               # unreviewed
apps:
  console:
    name: Console
    owner: ivan.infra@example.com
    roles:
      manual:
        group: manual
        risk: high
        approval: [{ group: oncall }]
        durations: [PT1H]
        maxDuration: PT1H
        breakGlass: true             # manual
      forever:
        group: 00gforever
        risk: high
        approval: [{ group: oncall }]
        durations: [PT1H]
        maxDuration: permanent       # forever
        breakGlass: true
      nobody:
        group: 00gnobody
        risk: high
        approval: [app_owner]
        durations: [PT1H]
        maxDuration: PT1H
        breakGlass: true             # nobody
`;
    const result = parseCatalog(text);
    const lines = text.split('\n');
    const line = (marker: string) => lines.findIndex((l) => l.includes(marker)) + 1;
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems.map(formatProblem);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^line ${line('# pattern')}, breakGlass.referencePattern: is not a regular expression: `)),
        `line ${line('# review')}, breakGlass.reviewWithin: reviewWithin P30D is too long: a break-glass use must be reviewed within P14D at most`,
        `line ${line('# unreviewed')}, breakGlass.onUnreviewed: onUnreviewed must be flag (flagged on the issue and in the audit) or revoke (flagged, and the access revoked)`,
        `line ${line('# manual')}, apps.console.roles.manual.breakGlass: a break-glass role needs an identity-provider group: its access starts at once, which a manual app cannot do`,
        `line ${line('# forever')}, apps.console.roles.forever.maxDuration: a break-glass role needs a time-bound maxDuration (its short maximum), not permanent`,
        `line ${line('# nobody')}, apps.console.roles.nobody.breakGlass: a break-glass role needs an approver group step ({group: name}): its members review each break-glass use after the fact`,
      ]),
    );
  });
});

describe('a break-glass request at intake', () => {
  it('reads the break-glass field as yes, no, or neither', () => {
    expect(['Break-glass', 'yes', 'TRUE', 'break glass (incident)'].map(breakGlassFlag)).toEqual([true, true, true, true]);
    expect(['', ' ', 'No', 'false', 'none'].map(breakGlassFlag)).toEqual([false, false, false, false, false]);
    expect(breakGlassFlag('maybe')).toBeUndefined();
  });

  it('needs an incident reference that matches the pattern, a reason, and a role that allows break-glass; the duration may be left out', () => {
    const catalog = testCatalog();
    expect(validateRequest(catalog, breakGlassRequest())).toEqual([]);
    expect(validateRequest(catalog, breakGlassRequest({ duration: '' }))).toEqual([]);
    expect(validateRequest(catalog, breakGlassRequest({ incident: '' }))).toEqual([
      'incident is missing: a break-glass request must name its incident (a reference matching ^INC-\\d+$)',
    ]);
    expect(validateRequest(catalog, breakGlassRequest({ incident: 'the outage' }))).toEqual([
      'incident "the outage" is not an incident reference: it must match ^INC-\\d+$',
    ]);
    expect(validateRequest(catalog, breakGlassRequest({ justification: ' ' }))).toEqual([
      'justification is missing: a break-glass request must give its reason',
    ]);
    expect(validateRequest(catalog, breakGlassRequest({ app: 'Figma', role: 'editor', duration: 'PT24H' }))).toEqual([
      'Figma editor does not allow break-glass: ask for it without break-glass (it is approved as usual), or choose a role that allows it (Internal admin console break-glass)',
    ]);
    expect(validateRequest(catalog, breakGlassRequest({ breakGlass: 'perhaps' }))).toEqual([
      'break-glass "perhaps" is neither yes nor no: leave it empty for a request approved as usual',
    ]);
    // Without the flag, the same role is asked for as usual: no reference needed, the duration is.
    expect(validateRequest(catalog, breakGlassRequest({ breakGlass: '', incident: '' }))).toEqual([]);
    expect(validateRequest(catalog, breakGlassRequest({ breakGlass: '', duration: '' }))[0]).toMatch(/^duration is missing/);
  });

  it('a refused break-glass request is in the ledger (under the id the issue would have) and on the issue; nothing is granted', async () => {
    const refused = submitRequest(deps, breakGlassRequest({ incident: '' }));

    await expect(refused).rejects.toBeInstanceOf(ValidationError);
    expect(await dynamo.store.getGrant('grant-ACC-42')).toBeUndefined();
    expect(await evidence('grant-ACC-42')).toEqual([
      expect.objectContaining({
        type: 'break_glass_refused',
        actor: ELI,
        via: 'jira',
        summary: `refused a break-glass request by ${ELI}: incident is missing: a break-glass request must name its incident (a reference matching ^INC-\\d+$)`,
        details: { Incident: '(none given)', Outcome: 'nothing was granted; the requester was told what to correct' },
      }),
    ]);
    expect(ports.comments).toEqual([
      `Grantline: refused a break-glass request by ${ELI}: incident is missing: a break-glass request must name its incident (a reference matching ^INC-\\d+$)`,
    ]);

    // Corrected and sent again, the same issue is accepted; its ledger keeps the refusal first.
    const grant = await submitRequest(deps, breakGlassRequest({ duration: '' }));
    expect(grant).toMatchObject({
      duration: 'PT6H',
      breakGlass: { incident: 'INC-42', reviewWithinSeconds: 86_400, onUnreviewed: 'flag', notifyChannel: CHANNEL },
    });
    expect((await evidence(grant.id)).map((e) => e.type)).toEqual(['break_glass_refused', 'requested']);
  });
});

describe("the requester's own approval", () => {
  it('is recorded with the incident and the reason, names the reviewers (never the requester) and when the review is due', async () => {
    directory.users[SAM] = { id: 'u-sam', email: SAM, active: true };
    const grant = await submitRequest(deps, breakGlassRequest({ requester: SAM, subject: SAM }));

    expect(await advance(deps, grant.id)).toMatchObject({ next: 'provision' });

    const approved = await dynamo.store.getGrant(grant.id);
    expect(approved).toMatchObject({
      status: 'approved',
      decidedBy: SAM,
      decidedAt: clock.now().toISOString(),
      breakGlass: { incident: 'INC-42', reviewers: [SASHA], reviewDueAt: new Date(clock.now().getTime() + 24 * HOUR).toISOString() },
    });
    const [event] = await evidence(grant.id, 'break_glass_approved');
    expect(event).toMatchObject({
      actor: SAM,
      via: 'jira',
      summary: `approved by ${SAM} under break-glass, incident INC-42: database failover, primary down`,
      details: {
        Incident: 'INC-42',
        Reason: 'database failover, primary down',
        Duration: 'PT1H (1 hour), starting now',
        'Review after the fact': `by one of ${SASHA} within 1 day`,
        'If nobody confirms it': 'flagged on this issue and in the audit',
      },
    });
    expect(answersFor(approved!, []).approvedBy).toEqual([
      { step: 0, by: `${SAM} (the requester, under break-glass)`, at: approved!.decidedAt, via: 'break-glass' },
    ]);
  });

  it('is denied when nobody is left to review it: the requester and deactivated accounts do not count', async () => {
    directory.users[SAM] = { id: 'u-sam', email: SAM, active: true };
    directory.users[SASHA] = { id: 'u-sasha', email: SASHA, active: false };
    const grant = await submitRequest(deps, breakGlassRequest({ requester: SAM, subject: SAM }));

    expect(await advance(deps, grant.id)).toMatchObject({ next: 'end' });

    expect(await dynamo.store.getGrant(grant.id)).toMatchObject({
      status: 'denied',
      denialReason:
        'break-glass needs someone to review it after the fact, and no member of security-oncall can: the requester and the subject never review it, and deactivated accounts do not count',
    });
    expect(await evidence(grant.id, 'break_glass_approved')).toEqual([]);
  });
});

describe('the review after the fact', () => {
  it('is opened once: the revocation scheduled, the channel and each reviewer told with the Reviewed button, the issue told who must confirm by when', async () => {
    const id = await granted();
    clock.advance(60_000);

    expect(await openReview(deps, id)).toEqual({ waitSeconds: 24 * 3600 - 60 });
    expect(await openReview(deps, id)).toEqual({ waitSeconds: 24 * 3600 - 60 }); // a retried task tells nobody twice

    expect(ports.schedules.has(id)).toBe(true);
    const told = ports.notices.filter((n) => n.review === id);
    expect(told.map((n) => n.to)).toEqual([CHANNEL, `U-${SAM}`, `U-${SASHA}`]);
    expect(told[0]!.text).toMatch(
      /^Break-glass: eli\.engineer@example\.com took Internal admin console break-glass for 1 hour until \S+ \S+ UTC \(ACC-42\), incident INC-42, reason: database failover, primary down\. Review it by \S+ \S+ UTC: one of sam\.sec@example\.com, sasha\.sec@example\.com must confirm it with Reviewed\.$/,
    );
    expect(await evidence(id, 'break_glass_review_opened')).toEqual([
      expect.objectContaining({
        summary: `review after the fact asked of ${SAM}, ${SASHA}: one of them must confirm this break-glass by ${new Date(clock.now().getTime() - 60_000 + 24 * HOUR).toISOString()}`,
      }),
    ]);
    expect(ports.comments.filter((c) => c.startsWith('Grantline: review after the fact'))).toHaveLength(1);
  });

  it('confirmed by a reviewer: recorded once, every notice shows it; the requester, an outsider and a second reviewer are refused and recorded', async () => {
    const id = await granted();
    await openReview(deps, id);
    clock.advance(HOUR);
    const click = (email: string) => confirmReview(deps, { grantId: id, clickerEmail: email, clickerRef: `U-${email}` });

    expect(await click(ELI)).toEqual({ outcome: 'refused', reason: 'you cannot review a break-glass you used or asked for' });
    expect(await click(MALLORY)).toEqual({ outcome: 'refused', reason: `only ${SAM}, ${SASHA} can review this break-glass` });
    expect(await click(SAM)).toEqual({ outcome: 'recorded' });
    expect(await click(SASHA)).toMatchObject({
      outcome: 'already_settled',
      reason: expect.stringMatching(/^this break-glass was already reviewed by sam\.sec@example\.com at /),
    });

    expect(await evidence(id, 'break_glass_reviewed')).toEqual([
      expect.objectContaining({ actor: SAM, summary: `break-glass reviewed by ${SAM} at ${clock.now().toISOString()}` }),
    ]);
    expect((await evidence(id, 'break_glass_review_refused')).map((e) => e.summary)).toEqual([
      `refused a break-glass review by ${ELI}: you cannot review a break-glass you used or asked for`,
      `refused a break-glass review by ${MALLORY}: only ${SAM}, ${SASHA} can review this break-glass`,
      expect.stringMatching(/^refused a break-glass review by sasha\.sec@example\.com: this break-glass was already reviewed by sam/),
    ]);
    expect(ports.releasedMessages.map((m) => m.outcome)).toEqual([0, 1, 2].map(() => expect.stringMatching(/^Reviewed by sam\.sec@example\.com at /)));

    // The deadline finds it confirmed: nothing is flagged, nothing revoked.
    clock.advance(23 * HOUR);
    expect(await reviewDue(deps, id)).toEqual({ revoke: false });
    expect(await evidence(id, 'break_glass_unreviewed')).toEqual([]);
    expect(answersFor((await dynamo.store.getGrant(id))!, []).breakGlass).toMatchObject({ review: 'confirmed', reviewedBy: SAM, flagged: false });
  });

  it('not confirmed by the deadline: flagged on the issue and in the audit, the notices lose their button, a late click is refused', async () => {
    const id = await granted();
    await openReview(deps, id);
    clock.advance(24 * HOUR);

    expect(await reviewDue(deps, id)).toEqual({ revoke: false });
    expect(await reviewDue(deps, id)).toEqual({ revoke: false }); // a retry flags it once

    expect(await evidence(id, 'break_glass_unreviewed')).toEqual([
      expect.objectContaining({
        summary: expect.stringMatching(/^FLAGGED: break-glass not reviewed within 1 day: nobody confirmed incident INC-42 by /),
        details: expect.objectContaining({ 'On unreviewed': 'flag: kept in the audit as not reviewed' }),
      }),
    ]);
    expect(ports.comments.filter((c) => c.startsWith('Grantline: FLAGGED'))).toHaveLength(1);
    expect(ports.releasedMessages.map((m) => m.outcome)).toContain('Not reviewed by 2026-03-03 09:00 UTC: flagged on ACC-42.');
    expect(answersFor((await dynamo.store.getGrant(id))!, []).breakGlass).toMatchObject({ incident: 'INC-42', review: 'not reviewed', flagged: true });
    expect(await confirmReview(deps, { grantId: id, clickerEmail: SAM, clickerRef: 'U-sam' })).toEqual({
      outcome: 'already_settled',
      reason: 'the review was due at 2026-03-03 09:00 UTC; this break-glass is flagged as not reviewed',
    });
  });

  it('with onUnreviewed: revoke, the deadline answers revoke while the access is active, and the revocation says why', async () => {
    deps = {
      ...deps,
      catalog: testCatalog((t) => t.replace('onUnreviewed: flag', 'onUnreviewed: revoke').replace('reviewWithin: PT24H', 'reviewWithin: PT30M')),
    };
    const id = await granted();
    await openReview(deps, id);
    clock.advance(30 * 60_000);

    expect(await reviewDue(deps, id)).toEqual({ revoke: true });
    await revoke(deps, { grantId: id, reason: 'unreviewed_break_glass' });

    expect((await evidence(id, 'break_glass_unreviewed'))[0]?.summary).toMatch(/within 30 minutes: .*; the access is revoked now$/);
    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'revoked', revokeReason: 'unreviewed_break_glass' });
    expect((await evidence(id, 'revoked'))[0]?.summary).toBe(`removed ${ELI} from okta group 00gconsolebreakglass (break-glass not reviewed in time)`);
    expect(ports.publicComments).toContain('Your access has ended: nobody confirmed the break-glass use in time, so it ended now.');
  });
});

describe('grantline policy explain', () => {
  it('says whether break-glass applies, with what it needs, who reviews it and what happens unreviewed', async () => {
    const explained = await explainPolicy(
      { catalog: testCatalog(), idp: () => directory, now: clock.now() },
      { requester: ELI, subject: ELI, app: 'admin-console', role: 'break-glass' },
    );
    const notAllowed = await explainPolicy(
      { catalog: testCatalog(), idp: () => directory, now: clock.now() },
      { requester: ELI, subject: ELI, app: 'figma', role: 'editor' },
    );

    expect(explained.breakGlass).toBe(
      `applies when the request says so: with an incident reference matching ^INC-\\d+$ and a reason, ${ELI} may approve it and it starts at once (for at most PT6H); ` +
        `one of ${SAM}, ${SASHA} must confirm it within PT24H (Slack channel ${CHANNEL} told), or it is flagged`,
    );
    expect(explanationText(explained)).toContain('\nBreak-glass: applies when the request says so');
    expect(notAllowed.breakGlass).toBeUndefined();
  });
});
