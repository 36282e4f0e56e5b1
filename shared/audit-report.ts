/**
 * The auditor's reports, from what the audit routes return (GrantRecord: a grant, its answers and its
 * evidence) and the chain check the auditor ran (shared/chain.ts verifyChain): pure functions, records
 * in, rows, flags and text out. `grantline audit user` and `grantline audit export` read and write.
 *
 * A grant's story answers five questions: what was requested (app, role, duration, justification, by
 * whom, where); who approved each step and where; which group in which identity provider; when it
 * started; when it expires or expired, and whether, when and why it was revoked. A story the evidence
 * does not complete is flagged (flagsOf).
 */
import type { GrantRecord } from './audit.js';
import type { BreakGlassAnswer } from './break-glass.js';
import type { Anchor, ChainBreak } from './chain.js';
import type { EvidenceEvent, EvidenceType, Grant, GrantStatus } from './grants/model.js';

/** A revocation more than this after its schedule is late (and an active grant this far past its expiry is flagged). */
export const LATE_AFTER_SECONDS = 300;

/** The evidence that an approval decision was taken (by a person, by policy, or by the requester under break-glass). */
const APPROVAL_TYPES: readonly EvidenceType[] = ['approved', 'auto_approved', 'break_glass_approved'];
/** The evidence that access was given. */
const PROVISION_TYPES: readonly EvidenceType[] = ['provisioned', 'manual_task'];
/** The evidence that a grant ended (the membership removed, kept for another holder, or a manual removal task). */
const END_TYPES: readonly EvidenceType[] = ['revoked', 'revocation_kept_membership', 'manual_removal_task'];

// ---------------------------------------------------------------- the chain check

/** What the auditor's recomputation of a grant's chain found: verified, broken (with the breaks), or not checked. */
export type ChainStatus = { status: 'verified' } | { status: 'broken'; breaks: ChainBreak[] } | { status: 'not checked' };

export function chainStatus(breaks: ChainBreak[] | undefined): ChainStatus {
  if (breaks === undefined) return { status: 'not checked' };
  return breaks.length === 0 ? { status: 'verified' } : { status: 'broken', breaks };
}

/** `BROKEN edited grant-ACC-1 approved#0 seq 3: …`: one line per break, as `grantline audit verify` prints it. */
export function breakLine(b: ChainBreak): string {
  return `BROKEN ${b.kind} ${b.grantId} ${b.key ?? '-'} seq ${b.seq ?? '-'}: ${b.detail}`;
}

function chainText(chain: ChainStatus): string {
  if (chain.status === 'verified') return '✓ verified';
  if (chain.status === 'not checked') return 'not checked';
  return `✗ ${chain.breaks.length} break${chain.breaks.length === 1 ? '' : 's'}`;
}

// ---------------------------------------------------------------- decisions

export type DecisionOutcome = 'approved' | 'auto_approved' | 'break_glass' | 'denied' | 'expired' | 'refused';

/** One approval decision of a grant, from its evidence: taken (approved, denied, expired), or refused (a click that decided nothing). */
export interface DecisionRow {
  grantId: string;
  jira: string;
  /** The approval step, 1-based; undefined for a decision of the whole request (policy, break-glass). */
  step?: number;
  approver: string;
  decision: DecisionOutcome;
  /** Where: slack, jira, policy, timeout, or the request's source for break-glass. */
  via: string;
  at: string;
  /** Why (a denial's reason, a refusal's). */
  reason?: string;
  /** A refused click by the requester or the person the access is for: an attempt at approving their own access. */
  selfApproval?: boolean;
  eventKey: string;
}

const DECISION_OF: Partial<Record<EvidenceType, DecisionOutcome>> = {
  approved: 'approved',
  auto_approved: 'auto_approved',
  break_glass_approved: 'break_glass',
  denied: 'denied',
  approval_expired: 'expired',
  approval_refused: 'refused',
};

/** Every approval decision in a grant's evidence, in ledger order (refused clicks included, as `refused`). */
export function decisionsOf({ grant, evidence }: Pick<GrantRecord, 'grant' | 'evidence'>): DecisionRow[] {
  const rows: DecisionRow[] = [];
  for (const e of evidence) {
    const decision = DECISION_OF[e.type];
    if (!decision) continue;
    const step = stepOf(e);
    // A person's denial gives no reason; a denial by policy (or a deactivated approver) says why.
    const reason =
      decision === 'refused'
        ? afterColon(e.summary)
        : decision === 'denied'
          ? (e.details.Reason ?? (e.summary.startsWith('denied: ') ? e.summary.slice(8) : undefined))
          : undefined;
    const self = decision === 'refused' && (e.actor === grant.requester || e.actor === grant.subject);
    rows.push({
      grantId: grant.id,
      jira: grant.issueKey,
      ...(step === undefined ? {} : { step }),
      approver: decision === 'expired' ? 'nobody (timed out)' : e.actor,
      decision,
      via: e.via,
      at: e.at,
      ...(reason ? { reason } : {}),
      ...(self ? { selfApproval: true } : {}),
      eventKey: e.key,
    });
  }
  return rows;
}

/** The step an event is about, 1-based: `approved#0`, `approved#0#sam@x`, `denied#1`, `approval_expired#0`; a refusal's details say it. */
function stepOf(e: EvidenceEvent): number | undefined {
  const fromDetails = e.type === 'approval_refused' ? Number(e.details.Step) : Number.NaN;
  if (Number.isInteger(fromDetails) && fromDetails > 0) return fromDetails;
  const part = e.key.split('#')[1];
  return part !== undefined && /^\d{1,3}$/.test(part) ? Number(part) + 1 : undefined;
}

const afterColon = (text: string) => {
  const at = text.indexOf(': ');
  return at < 0 ? text : text.slice(at + 2);
};

// ---------------------------------------------------------------- the end of a grant

/** A grant that ended or should have: when it was due to end, when it did, and how late. */
export interface RevocationRow {
  grantId: string;
  jira: string;
  subject: string;
  /** The expiry the schedule was for (absent: a permanent grant, ended by a review, a release, an offboarding). */
  scheduledFor?: string;
  /** When it ended (absent: still active past its expiry). */
  revokedAt?: string;
  /** Seconds after the schedule it ended (or, still active, seconds past the expiry until now); 0 when it ended before. */
  lateSeconds?: number;
  reason: string;
  /** How it ended: revoked, revocation_kept_membership, manual_removal_task; or "still active". */
  how: string;
  by?: string;
}

/** The grant's end, or its overdue end; undefined for a grant that has not ended and is not past its expiry. */
export function revocationOf({ grant, evidence }: Pick<GrantRecord, 'grant' | 'evidence'>, now: Date): RevocationRow | undefined {
  const ending = evidence.find((e) => END_TYPES.includes(e.type));
  const scheduledFor = grant.scheduledRevocationAt ?? grant.expiresAt ?? ending?.details['Scheduled for'];
  const base = { grantId: grant.id, jira: grant.issueKey, subject: grant.subject, ...(scheduledFor ? { scheduledFor } : {}) };
  if (grant.revokedAt) {
    const late = scheduledFor ? Math.max(0, Math.round((Date.parse(grant.revokedAt) - Date.parse(scheduledFor)) / 1000)) : undefined;
    return {
      ...base,
      revokedAt: grant.revokedAt,
      ...(late === undefined ? {} : { lateSeconds: late }),
      reason: grant.revokeReason ?? ending?.details.Reason ?? '',
      how: ending?.type ?? 'no end event',
      ...(ending ? { by: ending.actor } : {}),
    };
  }
  if (grant.status === 'active' && grant.expiresAt && Date.parse(grant.expiresAt) < now.getTime()) {
    return {
      ...base,
      lateSeconds: Math.round((now.getTime() - Date.parse(grant.expiresAt)) / 1000),
      reason: 'expired',
      how: 'still active',
    };
  }
  return undefined;
}

// ---------------------------------------------------------------- flags

/**
 * What the evidence leaves out of a grant's story: active past its expiry (by more than
 * LATE_AFTER_SECONDS); access given (a provisioned or manual_task event, or a start) without an
 * approval decision, or with fewer approved steps than its plan had; a break-glass use without its
 * review (none recorded once the review was due, or break_glass_unreviewed); revoked without the
 * event of its end.
 */
export function flagsOf({ grant, evidence }: Pick<GrantRecord, 'grant' | 'evidence'>, now: Date): string[] {
  const has = (types: readonly EvidenceType[]) => evidence.some((e) => types.includes(e.type));
  const flags: string[] = [];
  if (grant.status === 'active' && grant.expiresAt) {
    const past = (now.getTime() - Date.parse(grant.expiresAt)) / 1000;
    if (past > LATE_AFTER_SECONDS) flags.push(`active ${describeSeconds(past)} past its expiry (${grant.expiresAt})`);
  }
  const given = has(PROVISION_TYPES) || grant.grantedAt !== undefined;
  if (given && !has(APPROVAL_TYPES)) {
    flags.push('access given without an approval decision in the evidence (no approved, auto_approved or break_glass_approved event)');
  } else if (given && !has(['auto_approved', 'break_glass_approved']) && (grant.steps?.length ?? 0) > 0) {
    const approvedSteps = new Set(evidence.filter((e) => e.type === 'approved').map(stepOf));
    const planned = grant.steps!.length;
    const missing = Array.from({ length: planned }, (_, i) => i + 1).filter((s) => !approvedSteps.has(s));
    if (missing.length > 0) flags.push(`access given with step ${missing.join(', ')} of ${planned} not approved in the evidence`);
  }
  if (grant.breakGlass && has(['break_glass_approved'])) {
    if (has(['break_glass_unreviewed'])) flags.push('break-glass not reviewed in time (break_glass_unreviewed)');
    else if (!has(['break_glass_reviewed'])) {
      const due = grant.breakGlass.reviewDueAt;
      if (!due || Date.parse(due) < now.getTime()) flags.push(`break-glass without its review${due ? ` (due ${due})` : ''}`);
    }
  }
  if ((grant.status === 'revoked' || grant.revokedAt) && !has(END_TYPES)) {
    flags.push('revoked without the event of its end (no revoked, revocation_kept_membership or manual_removal_task event)');
  }
  return flags;
}

// ---------------------------------------------------------------- the story

export interface GrantStory {
  grantId: string;
  jira: string;
  status: GrantStatus;
  /** 1. What was requested, for whom, by whom and where. */
  requested: {
    app: string;
    appName: string;
    role: string;
    duration: string;
    justification: string;
    for: string;
    by: string;
    at: string;
    via: Grant['source'];
    endDate?: string;
  };
  /** 2. Who approved each step and where; and every other decision (denials, timeouts, refused clicks). */
  approvals: DecisionRow[];
  decisions: DecisionRow[];
  /** The decision of the request as a whole: its outcome, when, and why when it was not granted. */
  outcome: { status: GrantStatus; at?: string; reason?: string };
  /** 3. Which group in which identity provider (or the manual task). */
  group: string;
  /** 4. When it started. */
  started?: string;
  /** 5. When it expires or expired (absent: permanent), and its end. */
  expires?: string;
  revoked: { revoked: boolean; at?: string; reason?: string; scheduledFor?: string; lateSeconds?: number; how?: string; by?: string };
  breakGlass?: BreakGlassAnswer;
  chain: ChainStatus;
  flags: string[];
}

/** A grant's story from its record and the chain check (`breaks`: verifyChain's answer; undefined: not checked). */
export function storyOf(record: GrantRecord, now: Date, breaks?: ChainBreak[]): GrantStory {
  const { grant, answers } = record;
  const decisions = decisionsOf(record);
  const end = revocationOf(record, now);
  return {
    grantId: grant.id,
    jira: grant.issueKey,
    status: grant.status,
    requested: {
      app: grant.app,
      appName: grant.appName,
      role: grant.role,
      duration: grant.duration,
      justification: grant.justification,
      for: grant.subject,
      by: grant.requester,
      at: grant.requestedAt,
      via: grant.source,
      ...(grant.requestedEndDate ? { endDate: grant.requestedEndDate } : {}),
    },
    approvals: decisions.filter((d) => d.decision === 'approved' || d.decision === 'auto_approved' || d.decision === 'break_glass'),
    decisions,
    outcome: {
      status: grant.status,
      ...(answers.decision.at ? { at: answers.decision.at } : {}),
      ...(answers.decision.reason ? { reason: answers.decision.reason } : {}),
    },
    group: answers.group,
    ...(grant.grantedAt ? { started: grant.grantedAt } : {}),
    ...(grant.expiresAt ? { expires: grant.expiresAt } : {}),
    revoked: end?.revokedAt
      ? {
          revoked: true,
          at: end.revokedAt,
          reason: end.reason,
          how: end.how,
          ...(end.scheduledFor ? { scheduledFor: end.scheduledFor } : {}),
          ...(end.lateSeconds === undefined ? {} : { lateSeconds: end.lateSeconds }),
          ...(end.by ? { by: end.by } : {}),
        }
      : { revoked: false },
    ...(answers.breakGlass ? { breakGlass: answers.breakGlass } : {}),
    chain: chainStatus(breaks),
    flags: flagsOf(record, now),
  };
}

/** "step 1: maria@x (slack) at …; step 2: omar@x (jira) at …", "policy (auto-approved) at …", "eli@x (the requester, under break-glass; jira) at …". */
export function approvalsText(approvals: DecisionRow[]): string {
  return approvals
    .map((a) =>
      a.decision === 'auto_approved'
        ? `policy (auto-approved) at ${a.at}`
        : a.decision === 'break_glass'
          ? `${a.approver} (the requester, under break-glass; ${a.via}) at ${a.at}`
          : `${a.step === undefined ? '' : `step ${a.step}: `}${a.approver} (${a.via}) at ${a.at}`,
    )
    .join('; ');
}

function breakGlassText(bg: BreakGlassAnswer | undefined): string | undefined {
  if (!bg) return undefined;
  const review =
    bg.review === 'confirmed'
      ? `reviewed by ${bg.reviewedBy} at ${bg.reviewedAt}`
      : bg.review === 'not reviewed'
        ? `NOT reviewed by ${bg.reviewDue}`
        : `review open until ${bg.reviewDue ?? 'approval'}`;
  return `incident ${bg.incident}; ${review}`;
}

function endText(story: GrantStory): string {
  const r = story.revoked;
  if (!r.revoked)
    return story.status === 'active' && story.expires && story.flags.some((f) => f.startsWith('active ')) ? 'no (still active past its expiry)' : 'no';
  const timing = r.scheduledFor ? `; scheduled for ${r.scheduledFor}, ${describeSeconds(r.lateSeconds ?? 0)} late` : '';
  return `yes, at ${r.at} (${r.reason || 'no reason recorded'}${timing}) by ${r.by ?? '?'}: ${r.how}`;
}

// ---------------------------------------------------------------- CSV

/**
 * One CSV cell (RFC 4180: quoted when it holds a comma, a quote or a line break). Text that a
 * spreadsheet would read as a formula (=, +, -, @, a tab or a carriage return first) is prefixed with
 * an apostrophe, as campaignCsv does: names, justifications and reasons come from outside. Numbers are
 * written as they are.
 */
export function csvCell(value: string | number | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'number') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** One CSV record with its CRLF. */
export function csvLine(cells: ReadonlyArray<string | number | undefined>): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

export const GRANT_COLUMNS = [
  'grant',
  'jira',
  'status',
  'subject',
  'requested_by',
  'requested_via',
  'requested_at',
  'app',
  'role',
  'duration',
  'justification',
  'approved_by',
  'decided_at',
  'decision_reason',
  'group',
  'started_at',
  'expires_at',
  'revoked_at',
  'revoke_reason',
  'break_glass',
  'chain',
  'flags',
] as const;

/** A grant's row of grants.csv (and of `grantline audit user --format csv`): the five answers as columns. */
export function grantRow(story: GrantStory): string {
  return csvLine([
    story.grantId,
    story.jira,
    story.status,
    story.requested.for,
    story.requested.by,
    story.requested.via,
    story.requested.at,
    story.requested.appName,
    story.requested.role,
    story.requested.duration,
    story.requested.justification,
    approvalsText(story.approvals),
    story.outcome.at,
    story.outcome.reason,
    story.group,
    story.started,
    story.expires ?? (story.requested.duration === 'permanent' ? 'permanent' : undefined),
    story.revoked.at,
    story.revoked.reason,
    breakGlassText(story.breakGlass),
    story.chain.status,
    story.flags.join('; '),
  ]);
}

export const DECISION_COLUMNS = ['grant', 'jira', 'step', 'approver', 'decision', 'via', 'at', 'reason'] as const;

export function decisionRow(d: DecisionRow): string {
  return csvLine([d.grantId, d.jira, d.step, d.approver, d.decision, d.via, d.at, d.reason]);
}

export const REVOCATION_COLUMNS = ['grant', 'jira', 'subject', 'scheduled_for', 'revoked_at', 'late_seconds', 'reason', 'how', 'by'] as const;

export function revocationRow(r: RevocationRow): string {
  return csvLine([r.grantId, r.jira, r.subject, r.scheduledFor, r.revokedAt, r.lateSeconds, r.reason, r.how, r.by]);
}

/** An access review decision, as reviews.csv lists it (one item of a campaign, decided in the period). */
export interface ReviewRow {
  campaign: string;
  campaignIssue?: string;
  item: string;
  app: string;
  role: string;
  group: string;
  email: string;
  grant?: string;
  recommendation: string;
  reviewer: string;
  decision: string;
  decidedBy: string;
  decidedAt: string;
  reason?: string;
  result?: string;
}

export const REVIEW_COLUMNS = [
  'campaign',
  'campaign_issue',
  'item',
  'app',
  'role',
  'group',
  'email',
  'source',
  'recommendation',
  'reviewer',
  'decision',
  'decided_by',
  'decided_at',
  'reason',
  'result',
] as const;

export function reviewRow(r: ReviewRow): string {
  return csvLine([
    r.campaign,
    r.campaignIssue,
    r.item,
    r.app,
    r.role,
    r.group,
    r.email,
    r.grant ?? 'outside Grantline',
    r.recommendation,
    r.reviewer,
    r.decision,
    r.decidedBy,
    r.decidedAt,
    r.reason,
    r.result,
  ]);
}

export type ExceptionKind = 'self_approval_refused' | 'break_glass' | 'late_revocation' | 'failed_grant' | 'incomplete_story' | 'chain_break';

export interface ExceptionRow {
  kind: ExceptionKind;
  grantId: string;
  jira?: string;
  subject?: string;
  at?: string;
  detail: string;
}

export const EXCEPTION_COLUMNS = ['kind', 'grant', 'jira', 'subject', 'at', 'detail'] as const;

export function exceptionRow(x: ExceptionRow): string {
  return csvLine([x.kind, x.grantId, x.jira, x.subject, x.at, x.detail]);
}

/**
 * What an auditor follows up in a grant: self-approval attempts refused, a break-glass use, a
 * revocation more than LATE_AFTER_SECONDS late (or an expiry not acted on), a failed grant, the
 * flags of an incomplete story, and the breaks in its chain.
 */
export function exceptionsOf(record: GrantRecord, story: GrantStory, end: RevocationRow | undefined): ExceptionRow[] {
  const { grant, evidence } = record;
  const at = { grantId: grant.id, jira: grant.issueKey, subject: grant.subject };
  const rows: ExceptionRow[] = [];
  for (const d of story.decisions.filter((x) => x.selfApproval)) {
    rows.push({
      ...at,
      kind: 'self_approval_refused',
      at: d.at,
      detail: `${d.approver} tried to ${d.step ? `decide step ${d.step}` : 'decide'} in ${d.via}: ${d.reason ?? 'refused'}`,
    });
  }
  if (grant.breakGlass) {
    const used = evidence.find((e) => e.type === 'break_glass_approved');
    rows.push({
      ...at,
      kind: 'break_glass',
      ...(used ? { at: used.at } : {}),
      detail: `${used ? 'used' : 'asked, not self-approved'}: ${breakGlassText(story.breakGlass) ?? `incident ${grant.breakGlass.incident}`}; reason: ${grant.justification}`,
    });
  }
  if (end?.lateSeconds !== undefined && end.lateSeconds > LATE_AFTER_SECONDS && (end.reason === 'expired' || end.how === 'still active')) {
    rows.push({
      ...at,
      kind: 'late_revocation',
      ...(end.revokedAt ? { at: end.revokedAt } : {}),
      detail: end.revokedAt
        ? `revoked ${describeSeconds(end.lateSeconds)} after its schedule (${end.scheduledFor})`
        : `still active ${describeSeconds(end.lateSeconds)} after its expiry (${end.scheduledFor})`,
    });
  }
  const failedEvent = evidence.find((e) => e.type === 'provisioning_failed');
  if (grant.status === 'failed' || failedEvent) {
    rows.push({ ...at, kind: 'failed_grant', ...(failedEvent ? { at: failedEvent.at } : {}), detail: grant.failure ?? failedEvent?.summary ?? 'failed' });
  }
  for (const flag of story.flags) rows.push({ ...at, kind: 'incomplete_story', detail: flag });
  if (story.chain.status === 'broken') for (const b of story.chain.breaks) rows.push({ ...at, kind: 'chain_break', detail: breakLine(b) });
  return rows;
}

// ---------------------------------------------------------------- `grantline audit user`

export interface UserReport {
  user: string;
  since?: string;
  generatedAt: string;
  grants: GrantStory[];
}

/** How many stories are verified, broken and flagged. */
export function reportCounts(stories: GrantStory[]): { count: number; verified: number; broken: number; notChecked: number; flagged: number } {
  return {
    count: stories.length,
    verified: stories.filter((s) => s.chain.status === 'verified').length,
    broken: stories.filter((s) => s.chain.status === 'broken').length,
    notChecked: stories.filter((s) => s.chain.status === 'not checked').length,
    flagged: stories.filter((s) => s.flags.length > 0).length,
  };
}

export function userReportJson(report: UserReport): string {
  return `${JSON.stringify({ ...report, ...reportCounts(report.grants) }, null, 2)}\n`;
}

export function userReportCsv(report: UserReport): string {
  return csvLine(GRANT_COLUMNS) + report.grants.map(grantRow).join('');
}

function countsLine(stories: GrantStory[]): string {
  const c = reportCounts(stories);
  return `${c.count} grant(s): ${c.verified} chain(s) verified, ${c.broken} broken${c.notChecked ? `, ${c.notChecked} not checked` : ''}; ${c.flagged} flagged`;
}

/** The five answers of each grant, as a person reads them in a terminal. */
export function userReportText(report: UserReport): string {
  const lines = [`Access of ${report.user}${report.since ? ` requested since ${report.since}` : ''} (as of ${report.generatedAt})`, ''];
  for (const s of report.grants) {
    lines.push(`${s.grantId}  ${s.jira}  ${s.requested.appName} / ${s.requested.role}  ${s.status}  chain ${chainText(s.chain)}`);
    lines.push(
      `  requested  by ${s.requested.by} in ${s.requested.via} at ${s.requested.at}, for ${s.requested.for}, ${s.requested.duration}${s.requested.endDate ? ` (until ${s.requested.endDate} at the latest)` : ''}: ${s.requested.justification}`,
    );
    if (s.approvals.length === 0) lines.push(`  approved   no${s.outcome.reason ? ` (${s.status}: ${s.outcome.reason})` : ` (${s.status})`}`);
    for (const a of s.approvals) lines.push(`  approved   ${approvalsText([a])}`);
    for (const d of s.decisions.filter((x) => !s.approvals.includes(x))) {
      lines.push(`  ${d.decision.padEnd(10)} ${d.step ? `step ${d.step}: ` : ''}${d.approver} (${d.via}) at ${d.at}${d.reason ? `: ${d.reason}` : ''}`);
    }
    lines.push(`  group      ${s.group}`);
    lines.push(`  started    ${s.started ?? 'not started'}`);
    lines.push(`  expires    ${s.expires ?? (s.started ? 'permanent' : '-')}`);
    lines.push(`  revoked    ${endText(s)}`);
    const bg = breakGlassText(s.breakGlass);
    if (bg) lines.push(`  break-glass ${bg}`);
    for (const f of s.flags) lines.push(`  FLAG       ${f}`);
    if (s.chain.status === 'broken') for (const b of s.chain.breaks) lines.push(`  ${breakLine(b)}`);
    lines.push('');
  }
  lines.push(countsLine(report.grants));
  return `${lines.join('\n')}\n`;
}

/** A Markdown table cell: pipes escaped, line breaks flattened. */
function mdCell(value: string | undefined): string {
  return (value ?? '').replace(/\|/g, '\\|').replace(/\s*[\r\n]+\s*/g, ' ');
}

export function userReportMarkdown(report: UserReport): string {
  const lines = [
    `# Access of ${report.user}`,
    '',
    `${report.since ? `Requested since ${report.since}; as` : 'As'} of ${report.generatedAt}. ${countsLine(report.grants)}.`,
    '',
    '| Grant | Requested | Approved by | Group | Started | Expires | Revoked | Chain | Flags |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of report.grants) {
    lines.push(
      `| ${[
        `${s.grantId} (${s.jira}), ${s.status}`,
        `${s.requested.appName} / ${s.requested.role}, ${s.requested.duration}, by ${s.requested.by} in ${s.requested.via} at ${s.requested.at}: ${s.requested.justification}`,
        approvalsText(s.approvals) || `none (${s.status}${s.outcome.reason ? `: ${s.outcome.reason}` : ''})`,
        s.group,
        s.started ?? '',
        s.expires ?? (s.started ? 'permanent' : ''),
        endText(s),
        chainText(s.chain),
        s.flags.join('; '),
      ]
        .map(mdCell)
        .join(' | ')} |`,
    );
  }
  const problems = report.grants.filter((s) => s.flags.length > 0 || s.chain.status === 'broken');
  if (problems.length > 0) {
    lines.push('', '## Flags and breaks', '');
    for (const s of problems) {
      for (const f of s.flags) lines.push(`- ${s.grantId} (${s.jira}): ${mdCell(f)}`);
      if (s.chain.status === 'broken') for (const b of s.chain.breaks) lines.push(`- ${mdCell(breakLine(b))}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------- the pack's summary

/** Nearest-rank percentile (p in 0..100) of the values; undefined for none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Seconds from the request to the approval that completed it; undefined when it was never approved. */
export function approvalSeconds({ grant, evidence }: Pick<GrantRecord, 'grant' | 'evidence'>): { seconds: number; byPerson: boolean } | undefined {
  if (evidence.some((e) => e.type === 'denied' || e.type === 'approval_expired')) return undefined;
  const approvals = evidence.filter((e) => APPROVAL_TYPES.includes(e.type));
  if (approvals.length === 0) return undefined;
  const last = Math.max(...approvals.map((e) => Date.parse(e.at)));
  return { seconds: Math.max(0, (last - Date.parse(grant.requestedAt)) / 1000), byPerson: approvals.every((e) => e.type === 'approved') };
}

export interface PackSummary {
  from: string;
  to: string;
  generatedAt: string;
  /** Data rows per file. */
  files: Record<string, number>;
  approvalSeconds: number[];
  /** Of grants approved by people (not policy, not break-glass). */
  personApprovalSeconds: number[];
  /** Seconds late of each revocation at expiry. */
  lateness: number[];
  verify: { chains: number; events: number; breaks: ChainBreak[] };
  anchors: Array<{ anchor: Anchor; copy?: Anchor | undefined }>;
  notes: string[];
}

/** summary.md: the counts, the approval and revocation timing, the chain check of the pack's grants and the anchors covering the period. */
export function packSummaryMarkdown(s: PackSummary): string {
  const dur = (v: number | undefined) => (v === undefined ? 'n/a' : describeSeconds(v));
  const lines = [
    `# Access audit pack: ${s.from} to ${s.to}`,
    '',
    `Generated ${s.generatedAt} by \`grantline audit export\`. The population is every grant requested from ${s.from} to ${s.to} (inclusive, UTC).`,
    '',
    '## Files',
    '',
    '| File | Rows |',
    '|---|---|',
    ...Object.entries(s.files).map(([file, rows]) => `| ${file} | ${rows} |`),
    '',
    '## Timing',
    '',
    `- Median approval time (request to the approval that completed it): ${dur(percentile(s.approvalSeconds, 50))} over ${s.approvalSeconds.length} approved grant(s); approved by people: ${dur(percentile(s.personApprovalSeconds, 50))} over ${s.personApprovalSeconds.length}.`,
    `- Revocation lateness at expiry (revoked after the scheduled time), over ${s.lateness.length} revocation(s): p50 ${dur(percentile(s.lateness, 50))}, p99 ${dur(percentile(s.lateness, 99))}, max ${dur(s.lateness.length ? Math.max(...s.lateness) : undefined)}; late means over ${LATE_AFTER_SECONDS / 60} minutes.`,
    '',
    '## Evidence chains',
    '',
    s.verify.breaks.length === 0
      ? `Verified ${s.verify.chains} chain(s) (${s.verify.events} events) of the grants in this pack and ${s.anchors.length} anchor(s): intact.`
      : `Verified ${s.verify.chains} chain(s) (${s.verify.events} events) of the grants in this pack and ${s.anchors.length} anchor(s): ${s.verify.breaks.length} break(s):`,
    ...s.verify.breaks.map((b) => `- \`${breakLine(b).replace(/`/g, "'")}\``),
    '',
    '## Anchors covering the period',
    '',
  ];
  if (s.anchors.length === 0) lines.push('None: no anchor was written for a day of this period.');
  else {
    lines.push('| Day | Anchored at | Chains | Root | Write-once copy |', '|---|---|---|---|---|');
    for (const { anchor, copy } of s.anchors) {
      lines.push(`| ${anchor.day} | ${anchor.anchoredAt} | ${anchor.heads.length} | \`${anchor.root}\` | ${mdCell(anchor.copy ?? (copy ? 'read' : 'none'))} |`);
    }
  }
  if (s.notes.length > 0) lines.push('', '## Notes', '', ...s.notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------- helpers

/** "42 s", "5 min 3 s", "2 h 5 min", "3 d 4 h". */
export function describeSeconds(total: number): string {
  const s = Math.round(total);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
  return `${Math.floor(s / 86_400)} d${Math.floor((s % 86_400) / 3600) ? ` ${Math.floor((s % 86_400) / 3600)} h` : ''}`;
}
