/**
 * What the requester sees (shared/notices.ts): which steps get a public notice, what it says, and
 * that it never carries what the internal evidence does (groups, approver lists, errors). Also the
 * resolution each step's transition sets (shared/evidence.ts transitionOptions).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config.js';
import { commentsFor, transitionOptions } from '../../shared/evidence.js';
import type { EvidenceEvent, EvidenceType } from '../../shared/grants/model.js';
import { ENDED_BECAUSE, NOTICES, noticeText } from '../../shared/notices.js';
import { REASON_TEXT } from '../../shared/revocation.js';

const event = (type: EvidenceType, details: Record<string, string> = {}, more: Partial<EvidenceEvent> = {}): EvidenceEvent => ({
  grantId: 'grant-ACC-7',
  issueKey: 'ACC-7',
  key: type,
  type,
  at: '2026-03-02T09:00:00.000Z',
  actor: 'grantline',
  via: 'system',
  summary: `a ${type} step`,
  details,
  ...more,
});

describe('which steps the requester is told about (docs/jira-setup.md, "What the requester sees")', () => {
  it('every outcome, and none of the agents-only steps', () => {
    const told = Object.entries(NOTICES)
      .filter(([, notice]) => notice !== undefined)
      .map(([type]) => type);
    expect(told).toEqual([
      'requested',
      'auto_approved',
      'approval_escalated',
      'approved',
      'denied',
      'approval_expired',
      'provisioned',
      'manual_task',
      'provisioning_failed',
      'revoked',
      'revocation_kept_membership',
      'manual_removal_task',
      'break_glass_approved',
      'extension_refused',
      'extended',
      'bundle_settled',
      'offboarded',
    ]);
    expect(noticeText(event('approval_requested', { Approvers: 'sam@x, sasha@x' }))).toBeUndefined();
    expect(noticeText(event('approval_refused'))).toBeUndefined();
    expect(noticeText(event('approval_reminded'))).toBeUndefined();
    // An escalation that added nobody changes nothing the requester waits for.
    expect(noticeText(event('approval_escalated'))).toBeUndefined();
    expect(noticeText(event('approval_escalated', { 'Added approvers': 'ivan@x' }))).toBe(
      'Nobody decided in time, so your request was escalated: ivan@x can now decide it as well.',
    );
    expect(noticeText(event('revocation_scheduled'))).toBeUndefined();
    // An extension: the request itself is the requester's own act; its refusal and its outcome are told.
    expect(noticeText(event('extension_requested'))).toBeUndefined();
    expect(noticeText(event('extension_refused', { Reason: 'it would end past the maximum' }))).toBe(
      'Your request to extend this access was refused: it would end past the maximum.',
    );
    expect(noticeText(event('extended', { 'Now ends': '2026-03-04T09:00:00.000Z' }))).toBe(
      'Your access was extended: it now ends at 2026-03-04T09:00:00.000Z.',
    );
    // "I'm done": the revocation that follows tells the requester; a refused click changes nothing for them.
    expect(noticeText(event('release_requested'))).toBeUndefined();
    expect(noticeText(event('release_refused'))).toBeUndefined();
    // Break-glass: the requester hears it was approved under break-glass; the review after the fact is the reviewers' business
    // (a revocation for want of one has its own notice), and a refused request gets the intake's list of problems.
    expect(noticeText(event('break_glass_approved', { Incident: 'INC-42' }))).toBe(
      'Approved under break-glass (incident INC-42): the access starts now, and it is reviewed after the fact.',
    );
    for (const type of [
      'break_glass_refused',
      'break_glass_review_opened',
      'break_glass_reviewed',
      'break_glass_unreviewed',
      'break_glass_review_refused',
    ] as const) {
      expect(noticeText(event(type)), type).toBeUndefined();
    }
  });
});

describe('what a notice says', () => {
  it('received, and approved by the approver (with the step when more follow)', () => {
    expect(noticeText(event('requested'))).toBe('We have received your access request. Updates will appear here.');
    expect(noticeText(event('approved', { Approver: 'maria@x', Step: '1 of 1' }, { actor: 'maria@x' }))).toBe('Your request was approved by maria@x.');
    expect(noticeText(event('approved', { Approver: 'maria@x', Step: '1 of 2' }))).toBe(
      'Approval 1 of 2 given by maria@x. Your request now waits for the next approval.',
    );
    expect(noticeText(event('approved', { Approver: 'omar@x', Step: '2 of 2' }))).toBe('Your request was approved by omar@x.');
    expect(noticeText(event('auto_approved', { Reason: 'low risk, viewer role' }))).toBe(
      'Your request was approved automatically: the access policy allows it without an approver.',
    );
  });

  it('declined by a person, by the policy (without its reason: it can name approvers and accounts), or for want of a decision', () => {
    expect(noticeText(event('denied', { Approver: 'maria@x', Step: '1 of 1' }, { via: 'slack', actor: 'maria@x' }))).toBe(
      'Your request was declined by maria@x.',
    );
    const policy = noticeText(
      event(
        'denied',
        { Reason: 'approval step 1 has no eligible approver: manager of eli@x (from okta)' },
        { key: 'denied#policy', via: 'policy', actor: 'policy' },
      ),
    );
    expect(policy).toBe('Your request was declined automatically by the access policy. Contact the access team if you need to know why.');
    expect(noticeText(event('approval_expired', { Approvers: 'sam@x, sasha@x' }))).toBe(
      'Your request was declined: nobody decided in time. You can open a new request.',
    );
  });

  it('granted until when, or with no end; the group is never named', () => {
    const granted = noticeText(
      event('provisioned', { Group: '00gfigmaeditor (okta)', 'Identity provider answer': 'added', Expires: '2026-03-03T09:00:00.000Z' }),
    );
    expect(granted).toBe('Access granted until 2026-03-03T09:00:00.000Z (UTC).');
    expect(noticeText(event('provisioned', { Group: '00gfigmaeditor (okta)', Expires: 'never (permanent)' }))).toBe(
      'Access granted with no end date (permanent).',
    );
    expect(noticeText(event('manual_task', { Owner: 'erin@x', Expires: '2026-04-01T09:00:00.000Z' }))).toBe(
      "Your request was approved. The app's owner (erin@x) sets up the access by hand; it is granted until 2026-04-01T09:00:00.000Z (UTC).",
    );
  });

  it('an expiry capped by an end date says so after the time', () => {
    const capped = { Expires: '2026-04-01T00:00:00.000Z (capped by the end date 2026-03-31 from Okta endDate)' };
    expect(noticeText(event('provisioned', { Group: '00gfigmaeditor (okta)', ...capped }))).toBe(
      'Access granted until 2026-04-01T00:00:00.000Z (UTC), capped by the end date 2026-03-31 from Okta endDate.',
    );
  });

  it('could not be granted, without the error', () => {
    const failed = noticeText(
      event('provisioning_failed', { Error: 'PermanentError', 'State before failure': 'approved' }, { summary: 'Okta has no group 00gx' }),
    );
    expect(failed).toBe('Your access could not be granted. Nothing was changed, and the access team has been told.');
  });

  it('ended, with every revocation reason in plain words', () => {
    for (const reason of Object.values(REASON_TEXT)) expect(ENDED_BECAUSE[reason], reason).toBeDefined();
    expect(noticeText(event('revoked', { Reason: REASON_TEXT.expired, Group: '00gfigmaeditor (okta)' }))).toBe(
      'Your access has ended: the time you asked for ran out.',
    );
    expect(noticeText(event('revoked', { Reason: REASON_TEXT.early_release }))).toBe('Your access has ended: it was released early.');
    expect(noticeText(event('revocation_kept_membership', { Reason: REASON_TEXT.access_review }))).toBe('Your access has ended: an access review removed it.');
    expect(noticeText(event('manual_removal_task', { Reason: REASON_TEXT.offboarding, Owner: 'erin@x' }))).toBe(
      "Your access has ended: it was removed at offboarding. The app's owner removes it by hand.",
    );
    expect(noticeText(event('revoked', {}))).toBe('Your access has ended: it was removed.');
  });
});

describe('the comments one event puts on the issue', () => {
  it('the evidence, internal, then the notice, public, each with its own id', () => {
    const provisioned = event('provisioned', { Group: '00gfigmaeditor (okta)', Expires: 'never (permanent)' });
    const [evidence, notice, ...rest] = commentsFor(provisioned);

    expect(rest).toEqual([]);
    expect(evidence?.comment).toMatchObject({ internal: true, ref: 'grant-ACC-7/provisioned', title: 'Grantline: a provisioned step' });
    expect(evidence?.whenRefused).toMatchObject({ internal: true, ref: 'grant-ACC-7/provisioned' });
    expect(notice).toEqual({
      comment: { title: 'Access granted with no end date (permanent).', facts: [], internal: false, ref: 'grant-ACC-7/provisioned/notice' },
      whenRefused: 'skip',
    });
  });

  it('a step without a notice puts its evidence alone', () => {
    expect(commentsFor(event('approval_refused')).map((c) => c.comment.internal)).toEqual([true]);
  });
});

describe('the resolution a step sets on its way to a resolved status', () => {
  const config = parseConfig({});

  it('by moment: granted, denied (a decision or the timeout), removed; none for asking the approvers', () => {
    expect(transitionOptions(config, 'provisioned')).toEqual({ resolution: 'Done', resolutionSetting: 'JIRA_RESOLUTION_GRANTED' });
    expect(transitionOptions(config, 'denied')).toEqual({ resolution: "Won't Do", resolutionSetting: 'JIRA_RESOLUTION_DENIED' });
    expect(transitionOptions(config, 'approval_expired')).toEqual({ resolution: "Won't Do", resolutionSetting: 'JIRA_RESOLUTION_DENIED' });
    for (const type of ['revoked', 'revocation_kept_membership', 'manual_removal_task'] as const) {
      expect(transitionOptions(config, type)).toEqual({ resolution: 'Done', resolutionSetting: 'JIRA_RESOLUTION_REVOKED' });
    }
    expect(transitionOptions(config, 'approval_requested')).toEqual({});
  });

  it("a bundle's summary: granted when any item was, declined when none was", () => {
    expect(transitionOptions(config, 'bundle_settled', { Granted: 'Figma viewer', Declined: 'GitHub maintainer' })).toEqual({
      resolution: 'Done',
      resolutionSetting: 'JIRA_RESOLUTION_GRANTED',
    });
    expect(transitionOptions(config, 'bundle_settled', { Declined: 'GitHub maintainer' })).toEqual({
      resolution: "Won't Do",
      resolutionSetting: 'JIRA_RESOLUTION_DENIED',
    });
  });

  it('a setting left empty sends none, and still names itself for the error', () => {
    const empty = parseConfig({ JIRA_RESOLUTION_DENIED: '  ', JIRA_RESOLUTION_GRANTED: 'Fulfilled' });
    expect(transitionOptions(empty, 'denied')).toEqual({ resolutionSetting: 'JIRA_RESOLUTION_DENIED' });
    expect(transitionOptions(empty, 'provisioned')).toEqual({ resolution: 'Fulfilled', resolutionSetting: 'JIRA_RESOLUTION_GRANTED' });
  });
});
