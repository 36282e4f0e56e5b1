/**
 * The checks after a soak settles (../shared/RELIABILITY.md, "Invariants the soak checks"): each
 * returns the violations it finds, each naming the grant it concerns.
 */
import type { Sandbox } from '../../infra/local/sandbox/index.js';
import { noticeRef } from '../../shared/evidence.js';
import { NOTICE_TYPES } from '../../shared/notices.js';
import { IN_PROGRESS, type SoakEvent, type SoakRecord } from './grantline.js';
import { normalEmail, type Membership, type Population } from './population.js';
import type { Expectation } from './scenarios.js';
import { verifyChain } from '../../shared/chain.js';
import type { StoredChain } from '../../shared/ledger-audit.js';

export interface Violation {
  grantId: string;
  invariant: 'final_state' | 'membership' | 'evidence' | 'segregation' | 'expiry' | 'chain' | 'drive';
  detail: string;
}

/**
 * Every event of the grant is in its hash chain, intact, and the head is its last link. Checked as
 * if a day had passed, so an event left unsealed counts, however recent: after settling, nothing
 * may be waiting to be sealed.
 */
export function checkChain(chain: StoredChain | undefined, grantId: string, now: number): Violation[] {
  if (!chain) return [{ grantId, invariant: 'chain', detail: 'GET /audit/chains?grant= finds no chain' }];
  return verifyChain(grantId, chain.events, chain.head, new Date(now + 86_400_000)).map((b) => ({
    grantId,
    invariant: 'chain' as const,
    detail: `${b.kind} ${b.key ?? `slot ${b.seq}`}: ${b.detail}`,
  }));
}

/** An active grant this long past its expiry is a violation (the sweeper runs every second; allow for a restart). */
export const EXPIRY_GRACE_MS = 15_000;

/** A revocation that came this late is a violation even though it came (a restart's downtime is allowed for). */
export const LATE_REVOCATION_GRACE_MS = 60_000;

export interface CheckInput {
  records: SoakRecord[];
  expectations: Expectation[];
  sandbox: Sandbox;
  population: Population;
  preexisting: Membership[];
  now: number;
}

export function checkInvariants(input: CheckInput): Violation[] {
  return [
    ...checkFinalStates(input),
    ...checkMemberships(input),
    ...input.records.flatMap((r) =>
      checkEvidence(r, input.sandbox.jira.commentTexts(r.grant.issueKey), input.sandbox.jira.publicCommentTexts(r.grant.issueKey)),
    ),
    ...input.records.flatMap(checkSegregation),
    ...input.records.flatMap((r) => checkExpiry(r, input.now)),
  ];
}

/** Every grant is final (or waits as it should), and ended as its scenario allows. */
export function checkFinalStates({ records, expectations }: CheckInput): Violation[] {
  const byId = new Map(records.map((r) => [r.grant.id, r]));
  const violations: Violation[] = [];
  for (const expected of expectations) {
    const grant = byId.get(expected.grantId)?.grant;
    if (!grant) {
      violations.push({
        grantId: expected.grantId,
        invariant: 'final_state',
        detail: `the webhook answered with this grant id but GET /grants/${expected.grantId} finds none`,
      });
    } else if (IN_PROGRESS.includes(grant.status)) {
      violations.push({
        grantId: grant.id,
        invariant: 'final_state',
        detail: `stuck in ${grant.status}${grant.currentStep !== undefined ? ` at step ${grant.currentStep}` : ''} (${expected.scenario})`,
      });
    } else if (!expected.outcomes.includes(grant.status)) {
      const why = grant.failure ?? grant.denialReason;
      violations.push({
        grantId: grant.id,
        invariant: 'final_state',
        detail: `${expected.scenario}: expected ${expected.outcomes.join(' or ')}, ended ${grant.status}${why ? `: ${why}` : ''}`,
      });
    }
  }
  return violations;
}

/** For every (provider, group, person): a member iff an active grant holds it or it existed before Grantline. */
export function checkMemberships({ records, sandbox, population, preexisting }: CheckInput): Violation[] {
  const violations: Violation[] = [];
  for (const role of population.groupRoles()) {
    const grants = records.map((r) => r.grant).filter((g) => g.provider === role.provider && g.groupId === role.groupId);
    const active = new Set(grants.filter((g) => g.status === 'active').map((g) => normalEmail(g.subject)));
    const before = new Set(preexisting.filter((m) => m.provider === role.provider && m.groupId === role.groupId).map((m) => m.email));
    const members = new Set(sandbox.members(role.provider, role.groupId).map(normalEmail));
    const people = new Set([...members, ...active, ...before, ...grants.map((g) => normalEmail(g.subject))]);
    const where = `${role.provider} group ${role.groupId}`;
    for (const person of people) {
      const should = active.has(person) || before.has(person);
      const is = members.has(person);
      if (should === is) continue;
      const held = grants.filter((g) => normalEmail(g.subject) === person);
      const grantId = held.at(-1)?.id ?? '(none)';
      const history = held.map((g) => `${g.id} ${g.status}`).join(', ');
      const detail = is
        ? `${person} is still in ${where} with no active grant and no pre-existing membership (grants: ${history})`
        : before.has(person)
          ? `${person}'s pre-existing membership of ${where} was removed (grants: ${history})`
          : `${person} is not in ${where} though an active grant holds it (grants: ${history})`;
      violations.push({ grantId, invariant: 'membership', detail });
    }
  }
  return violations;
}

/**
 * Every evidence event of the grant is on its Jira issue exactly once, in the ledger's order,
 * including events recorded concurrently by different actors (README: Evidence), as an internal
 * comment; and every event the requester is told about has its public notice exactly once, after
 * its evidence. `comments` are all of the issue's comments, oldest first; `publicComments` the
 * ones the requester sees.
 */
export function checkEvidence(record: SoakRecord, comments: string[], publicComments: string[]): Violation[] {
  const violations: Violation[] = [];
  const grantId = record.grant.id;
  const issueKey = record.grant.issueKey;
  const isPublic = new Set(publicComments);
  let previous = { index: -1, summary: '' };
  for (const event of record.evidence) {
    const positions = comments.flatMap((text, index) => (isCommentFor(text, grantId, event) ? [index] : []));
    if (positions.length !== 1) {
      violations.push({ grantId, invariant: 'evidence', detail: `"${event.summary}" (${event.key}) is on ${issueKey} ${positions.length} times` });
    }
    const first = positions[0];
    if (first !== undefined && isPublic.has(comments[first]!)) {
      violations.push({
        grantId,
        invariant: 'evidence',
        detail: `"${event.summary}" (${event.key}) is a public comment on ${issueKey}: the requester sees the evidence`,
      });
    }
    if (NOTICE_TYPES.has(event.type)) {
      const notices = comments.flatMap((text, index) => (isNoticeFor(text, grantId, event) ? [index] : []));
      const about = `the requester's notice of "${event.summary}" (${event.key})`;
      if (notices.length !== 1) violations.push({ grantId, invariant: 'evidence', detail: `${about} is on ${issueKey} ${notices.length} times` });
      const notice = notices[0];
      if (notice !== undefined && !isPublic.has(comments[notice]!)) {
        violations.push({ grantId, invariant: 'evidence', detail: `${about} is internal on ${issueKey}: the requester does not see it` });
      }
      if (notice !== undefined && first !== undefined && notice < first) {
        violations.push({ grantId, invariant: 'evidence', detail: `${about} is on ${issueKey} before its evidence` });
      }
    }
    if (first === undefined) continue;
    if (first < previous.index) {
      violations.push({
        grantId,
        invariant: 'evidence',
        detail: `"${event.summary}" (${event.key}) is on ${issueKey} before "${previous.summary}", out of the ledger's order`,
      });
    }
    previous = { index: first, summary: event.summary };
  }
  return violations;
}

/**
 * A comment renders the event when it carries the grant id and either its summary and time (the
 * full rendering, shared/evidence.ts commentFor) or its key (the minimal one, minimalCommentFor).
 */
export function isCommentFor(text: string, grantId: string, event: SoakEvent): boolean {
  if (!text.includes(grantId)) return false;
  return (text.includes(event.summary) && text.includes(event.at)) || text.split('\n').includes(`- Event: ${event.key}`);
}

/** A comment is the event's notice to the requester when it carries the notice's id (shared/evidence.ts noticeRef). */
export function isNoticeFor(text: string, grantId: string, event: SoakEvent): boolean {
  return text.includes(noticeRef({ grantId, key: event.key }));
}

/** Nobody decides their own request, nor one for themselves, whatever the case or whitespace of the emails; only named approvers approve. */
export function checkSegregation(record: SoakRecord): Violation[] {
  const { grant } = record;
  const requester = normalEmail(grant.requester);
  const subject = normalEmail(grant.subject);
  const deciders = new Set([grant.decidedBy, ...(record.answers.approvedBy ?? []).map((a) => a.by)].map(normalEmail).filter((e) => e.includes('@')));
  const violations: Violation[] = [];
  for (const decider of deciders) {
    if (decider === requester)
      violations.push({
        grantId: grant.id,
        invariant: 'segregation',
        detail: `decided by its requester ${decider} (requester recorded as ${JSON.stringify(grant.requester)})`,
      });
    else if (decider === subject) violations.push({ grantId: grant.id, invariant: 'segregation', detail: `decided by its subject ${decider}` });
  }
  for (const approval of record.answers.approvedBy ?? []) {
    const named = grant.steps?.[approval.step - 1]?.approvers.map(normalEmail);
    if (named && !named.includes(normalEmail(approval.by))) {
      violations.push({
        grantId: grant.id,
        invariant: 'segregation',
        detail: `step ${approval.step} approved by ${approval.by}, whom the policy did not name (${named.join(', ')})`,
      });
    }
  }
  return violations;
}

/** No grant is active past its expiry beyond a grace, now or earlier in the run (a late revocation). */
export function checkExpiry(record: SoakRecord, now: number): Violation[] {
  const { grant } = record;
  if (!grant.expiresAt) return [];
  const expiry = Date.parse(grant.expiresAt);
  if (grant.status === 'active' && now - expiry > EXPIRY_GRACE_MS) {
    return [{ grantId: grant.id, invariant: 'expiry', detail: `active ${Math.round((now - expiry) / 1000)} s past its expiry ${grant.expiresAt}` }];
  }
  const late = grant.revokedAt ? Date.parse(grant.revokedAt) - expiry : 0;
  if (grant.status === 'revoked' && late > LATE_REVOCATION_GRACE_MS) {
    return [
      {
        grantId: grant.id,
        invariant: 'expiry',
        detail: `was active ${Math.round(late / 1000)} s past its expiry ${grant.expiresAt} (revoked ${grant.revokedAt})`,
      },
    ];
  }
  return [];
}
