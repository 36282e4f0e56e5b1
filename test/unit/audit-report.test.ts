/**
 * The auditor's reports from grant records: the decisions and the end read from the evidence, the
 * flags of an incomplete story, the exceptions, and each format (text, JSON, CSV, Markdown, the
 * pack's summary) as a reader gets it.
 */
import { describe, expect, it } from 'vitest';
import { answersFor, type GrantRecord } from '../../shared/audit.js';
import {
  approvalSeconds,
  csvCell,
  csvLine,
  decisionsOf,
  describeSeconds,
  exceptionsOf,
  flagsOf,
  GRANT_COLUMNS,
  grantRow,
  packSummaryMarkdown,
  percentile,
  revocationOf,
  storyOf,
  userReportCsv,
  userReportJson,
  userReportMarkdown,
  userReportText,
} from '../../shared/audit-report.js';
import type { Anchor, ChainBreak } from '../../shared/chain.js';
import type { EvidenceEvent, EvidenceType, Grant } from '../../shared/grants/model.js';

const NINA = 'nina.newhire@example.com';
const MARIA = 'maria.manager@example.com';
const T0 = Date.parse('2026-02-03T10:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const NOW = new Date(T0 + 10 * 86_400_000);

function grant(changes: Partial<Grant> = {}): Grant {
  return {
    id: 'grant-ACC-7',
    issueKey: 'ACC-7',
    requester: NINA,
    subject: NINA,
    app: 'figma',
    appName: 'Figma',
    role: 'editor',
    appOwner: 'dana.design@example.com',
    risk: 'medium',
    provider: 'okta',
    groupId: '00gfigmaeditor',
    manual: false,
    duration: 'PT24H',
    justification: 'design reviews',
    approvalTimeoutSeconds: 86_400,
    status: 'active',
    steps: [{ kind: 'manager', approvers: [MARIA], reason: 'manager of nina' }],
    currentStep: 0,
    requestedAt: at(0),
    decidedAt: at(60),
    decidedBy: MARIA,
    grantedAt: at(61),
    expiresAt: at(61 + 86_400),
    executionName: 'grant-ACC-7',
    source: 'jira',
    updatedAt: at(61),
    ...changes,
  };
}

function event(type: EvidenceType, seconds: number, changes: Partial<EvidenceEvent> = {}): EvidenceEvent {
  return {
    grantId: 'grant-ACC-7',
    issueKey: 'ACC-7',
    key: type,
    type,
    at: at(seconds),
    actor: 'grantline',
    via: 'okta',
    summary: type,
    details: {},
    ...changes,
  };
}

const requested = () => event('requested', 0, { actor: NINA, via: 'jira' });
const approvedBy = (who: string, step: number, seconds: number) =>
  event('approved', seconds, { key: `approved#${step}`, actor: who, via: 'slack', details: { Approver: who, Step: `${step + 1} of 1` } });
const provisioned = (seconds = 61) => event('provisioned', seconds);

function record(g: Grant, evidence: EvidenceEvent[]): GrantRecord {
  return { grant: g, answers: answersFor(g, []), evidence };
}

/** A complete story: asked, approved by the manager, given, expired and revoked 42 s after its schedule. */
function expiredRecord(): GrantRecord {
  const g = grant({ status: 'revoked', revokedAt: at(61 + 86_400 + 42), revokeReason: 'expired', scheduledRevocationAt: at(61 + 86_400) });
  return record(g, [
    requested(),
    approvedBy(MARIA, 0, 60),
    provisioned(),
    event('revoked', 61 + 86_400 + 42, { key: 'revoked', actor: 'scheduler', details: { 'Scheduled for': at(61 + 86_400), Reason: 'expired' } }),
  ]);
}

/** RFC 4180 records: a cell quoted (doubled quotes inside) or bare, then a comma, a line end or the end. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let row: string[] = [];
  const cell = /("(?:[^"]|"")*"|[^",\r\n]*)(,|\r\n|\n|$)/y;
  for (let m = cell.exec(text); m && m.index < text.length; m = cell.exec(text)) {
    const raw = m[1]!;
    row.push(raw.startsWith('"') ? raw.slice(1, -1).replace(/""/g, '"') : raw);
    if (m[2] !== ',') {
      records.push(row);
      row = [];
    }
  }
  return records;
}

describe('flags of an incomplete story', () => {
  it('none for a complete story: asked, approved, given, expired and revoked with its event', () => {
    expect(flagsOf(expiredRecord(), NOW)).toEqual([]);
  });

  it('active past its expiry by more than 5 minutes (not within them)', () => {
    const g = grant();
    const evidence = [requested(), approvedBy(MARIA, 0, 60), provisioned()];
    const expiry = Date.parse(g.expiresAt!);

    expect(flagsOf(record(g, evidence), new Date(expiry + 299_000))).toEqual([]);
    expect(flagsOf(record(g, evidence), new Date(expiry + 2 * 3_600_000))).toEqual([`active 2 h past its expiry (${g.expiresAt})`]);
  });

  it('access given without an approval decision: a provisioned event, or a start without one', () => {
    const noDecision = 'access given without an approval decision in the evidence (no approved, auto_approved or break_glass_approved event)';

    expect(flagsOf(record(grant({ expiresAt: at(10 * 86_400 + 3600) }), [requested(), provisioned()]), NOW)).toEqual([noDecision]);
    expect(flagsOf(record(grant({ expiresAt: at(10 * 86_400 + 3600) }), [requested()]), NOW)).toEqual([noDecision]);
    expect(flagsOf(record(grant({ grantedAt: undefined, status: 'denied' }), [requested()]), NOW)).toEqual([]);
  });

  it('a step of the plan not approved in the evidence; auto-approval and break-glass have no steps to match', () => {
    const twoSteps = grant({
      expiresAt: at(10 * 86_400 + 3600),
      steps: [
        { kind: 'manager', approvers: [MARIA], reason: '' },
        { kind: 'app_owner', approvers: ['omar.owner@example.com'], reason: '' },
      ],
    });

    expect(flagsOf(record(twoSteps, [requested(), approvedBy(MARIA, 0, 60), provisioned()]), NOW)).toEqual([
      'access given with step 2 of 2 not approved in the evidence',
    ]);
    expect(flagsOf(record(twoSteps, [requested(), approvedBy(MARIA, 0, 60), approvedBy('omar.owner@example.com', 1, 70), provisioned()]), NOW)).toEqual([]);
    // A quorum step's approvals are keyed by approver: `approved#0#sam@x`.
    const quorum = grant({ expiresAt: at(10 * 86_400 + 3600), steps: [{ kind: 'group', approvers: ['a@x', 'b@x'], reason: '', quorum: 2 }] });
    const byQuorum = [
      requested(),
      event('approved', 50, { key: 'approved#0#a@x', actor: 'a@x' }),
      event('approved', 55, { key: 'approved#0#b@x', actor: 'b@x' }),
    ];
    expect(flagsOf(record(quorum, [...byQuorum, provisioned()]), NOW)).toEqual([]);
  });

  it('break-glass: flagged without its review once due, or when nobody reviewed it in time; not while the review is open', () => {
    const bg = (due: number) =>
      grant({
        expiresAt: at(10 * 86_400 + 3600),
        breakGlass: { incident: 'INC-42', reviewWithinSeconds: 86_400, onUnreviewed: 'flag', reviewers: ['sam@x'], reviewDueAt: at(due) },
      });
    const used = [requested(), event('break_glass_approved', 5, { actor: NINA, via: 'jira' }), provisioned(6)];

    expect(flagsOf(record(bg(86_405), used), NOW)).toEqual([`break-glass without its review (due ${at(86_405)})`]);
    expect(flagsOf(record(bg(20 * 86_400), used), NOW)).toEqual([]);
    expect(flagsOf(record(bg(86_405), [...used, event('break_glass_unreviewed', 86_405)]), NOW)).toEqual([
      'break-glass not reviewed in time (break_glass_unreviewed)',
    ]);
    expect(flagsOf(record(bg(86_405), [...used, event('break_glass_reviewed', 3600, { actor: 'sam@x' })]), NOW)).toEqual([]);
  });

  it('revoked without the event of its end; a membership kept for another grant or a manual removal task is an end', () => {
    const revoked = grant({ status: 'revoked', revokedAt: at(100), revokeReason: 'access_review' });
    const story = [requested(), approvedBy(MARIA, 0, 60), provisioned()];

    expect(flagsOf(record(revoked, story), NOW)).toEqual([
      'revoked without the event of its end (no revoked, revocation_kept_membership or manual_removal_task event)',
    ]);
    expect(flagsOf(record(revoked, [...story, event('revocation_kept_membership', 100, { key: 'revoked' })]), NOW)).toEqual([]);
    expect(flagsOf(record(revoked, [...story, event('manual_removal_task', 100, { key: 'revoked' })]), NOW)).toEqual([]);
  });
});

describe('decisions and the end, from the evidence', () => {
  it('every decision with its step, refused clicks as refused, a self-approval attempt marked', () => {
    const g = grant();
    const rows = decisionsOf(
      record(g, [
        requested(),
        event('approval_refused', 30, {
          key: `approval_refused#0#U1#${at(30)}`,
          actor: NINA,
          via: 'slack',
          summary: `refused a decision by ${NINA}: you cannot approve a request you made or that gives you access`,
          details: { Attempted: 'approved', Step: '1' },
        }),
        event('approval_refused', 40, {
          key: `approval_refused#0#U2#${at(40)}`,
          actor: 'mallory@x',
          via: 'slack',
          summary: `refused a decision by mallory@x: only ${MARIA} can decide this step`,
          details: { Attempted: 'approved', Step: '1' },
        }),
        approvedBy(MARIA, 0, 60),
        event('denied', 70, {
          key: 'denied#policy',
          actor: 'policy',
          via: 'policy',
          summary: 'denied: subject is suspended',
          details: { Reason: 'subject is suspended' },
        }),
        event('approval_expired', 80, { key: 'approval_expired#1', via: 'timeout' }),
      ]),
    );

    expect(rows.map((r) => [r.step, r.approver, r.decision, r.via, r.reason, r.selfApproval])).toEqual([
      [1, NINA, 'refused', 'slack', 'you cannot approve a request you made or that gives you access', true],
      [1, 'mallory@x', 'refused', 'slack', `only ${MARIA} can decide this step`, undefined],
      [1, MARIA, 'approved', 'slack', undefined, undefined],
      [undefined, 'policy', 'denied', 'policy', 'subject is suspended', undefined],
      [2, 'nobody (timed out)', 'expired', 'timeout', undefined, undefined],
    ]);
  });

  it('the end: seconds late after the schedule; an early end is not late; a permanent grant has no schedule; an expiry not acted on', () => {
    expect(revocationOf(expiredRecord(), NOW)).toMatchObject({ lateSeconds: 42, reason: 'expired', how: 'revoked', by: 'scheduler' });
    const released = grant({ status: 'revoked', revokedAt: at(3600), revokeReason: 'early_release', scheduledRevocationAt: at(61 + 86_400) });
    expect(revocationOf(record(released, [event('revoked', 3600, { actor: NINA })]), NOW)).toMatchObject({ lateSeconds: 0, reason: 'early_release' });
    const permanent = grant({ duration: 'permanent', expiresAt: undefined, status: 'revoked', revokedAt: at(3600), revokeReason: 'access_review' });
    const end = revocationOf(record(permanent, [event('revoked', 3600)]), NOW)!;
    expect(end.scheduledFor).toBeUndefined();
    expect(end.lateSeconds).toBeUndefined();
    expect(revocationOf(record(grant(), []), NOW)).toMatchObject({ how: 'still active', lateSeconds: 10 * 86_400 - 61 - 86_400 });
    expect(revocationOf(record(grant({ duration: 'permanent', expiresAt: undefined }), []), NOW)).toBeUndefined();
  });

  it('approval time: request to the approval that completed it; none when denied', () => {
    expect(approvalSeconds(expiredRecord())).toEqual({ seconds: 60, byPerson: true });
    expect(approvalSeconds(record(grant(), [requested(), event('auto_approved', 2, { actor: 'policy' })]))).toEqual({ seconds: 2, byPerson: false });
    expect(approvalSeconds(record(grant(), [requested(), approvedBy(MARIA, 0, 60), event('denied', 90, { key: 'denied#1' })]))).toBeUndefined();
  });

  it('exceptions: a self-approval attempt, a late revocation, a failed grant, a break-glass use, a flag and a chain break', () => {
    const late = grant({ status: 'revoked', revokedAt: at(61 + 86_400 + 301), revokeReason: 'expired', scheduledRevocationAt: at(61 + 86_400) });
    const lateRecord = record(late, [requested(), approvedBy(MARIA, 0, 60), provisioned(), event('revoked', 61 + 86_400 + 301)]);
    const failed = record(grant({ status: 'failed', failure: 'Okta answered 403', grantedAt: undefined, expiresAt: undefined }), [
      requested(),
      approvedBy(MARIA, 0, 60),
      event('provisioning_failed', 62, { summary: 'could not add' }),
    ]);
    const broken: ChainBreak[] = [
      { grantId: 'grant-ACC-7', key: 'approved#0', seq: 2, kind: 'edited', detail: 'its content gives hash a, but it was sealed as b' },
    ];

    expect(exceptionsOf(lateRecord, storyOf(lateRecord, NOW, []), revocationOf(lateRecord, NOW)).map((x) => [x.kind, x.detail])).toEqual([
      ['late_revocation', `revoked 5 min 1 s after its schedule (${at(61 + 86_400)})`],
    ]);
    expect(exceptionsOf(failed, storyOf(failed, NOW, broken), undefined).map((x) => [x.kind, x.detail])).toEqual([
      ['failed_grant', 'Okta answered 403'],
      ['chain_break', 'BROKEN edited grant-ACC-7 approved#0 seq 2: its content gives hash a, but it was sealed as b'],
    ]);
    const unreviewed = record(
      grant({
        expiresAt: at(10 * 86_400 + 3600),
        breakGlass: { incident: 'INC-9', reviewWithinSeconds: 60, onUnreviewed: 'flag', reviewDueAt: at(65) },
        breakGlassReview: { outcome: 'unreviewed', at: at(65) },
      }),
      [requested(), event('break_glass_approved', 5, { actor: NINA }), provisioned(6), event('break_glass_unreviewed', 65)],
    );
    expect(exceptionsOf(unreviewed, storyOf(unreviewed, NOW), undefined).map((x) => [x.kind, x.detail])).toEqual([
      ['break_glass', `used: incident INC-9; NOT reviewed by ${at(65)}; reason: design reviews`],
      ['incomplete_story', 'break-glass not reviewed in time (break_glass_unreviewed)'],
    ]);
  });
});

describe('CSV', () => {
  it('quotes what needs it (RFC 4180), defuses formulas with an apostrophe, and writes numbers as they are', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a, "b"')).toBe('"a, ""b"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    for (const formula of ['=1+1', '+1', '-1', '@SUM(A1)']) expect(csvCell(formula)).toBe(`'${formula}`);
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell(undefined)).toBe('');
    expect(csvLine(['a', 1, undefined])).toBe('a,1,\r\n');
  });

  it('a grant row reads back as the five answers, whatever its justification holds', () => {
    const r = expiredRecord();
    r.grant.justification = 'line one\nline "two", =3';

    const [header, row] = parseCsv(csvLine(GRANT_COLUMNS) + grantRow(storyOf(r, NOW, [])));
    const cells = Object.fromEntries(header!.map((k, i) => [k, row![i]]));

    expect(cells).toMatchObject({
      grant: 'grant-ACC-7',
      status: 'revoked',
      requested_by: NINA,
      requested_via: 'jira',
      app: 'Figma',
      role: 'editor',
      duration: 'PT24H',
      justification: 'line one\nline "two", =3',
      approved_by: `step 1: ${MARIA} (slack) at ${at(60)}`,
      group: 'okta group 00gfigmaeditor',
      started_at: at(61),
      expires_at: at(61 + 86_400),
      revoked_at: at(61 + 86_400 + 42),
      revoke_reason: 'expired',
      chain: 'verified',
      flags: '',
    });
  });
});

describe('grantline audit user formats', () => {
  const broken: ChainBreak[] = [
    { grantId: 'grant-ACC-7', key: 'approved#0', seq: 2, kind: 'edited', detail: 'its content gives hash a, but it was sealed as b' },
  ];
  const report = (breaks?: ChainBreak[]) => ({ user: NINA, generatedAt: NOW.toISOString(), grants: [storyOf(expiredRecord(), NOW, breaks)] });

  it('text: the five answers, ✓ for a verified chain, ✗ with each break for a broken one', () => {
    const ok = userReportText(report([]));
    const bad = userReportText(report(broken));

    expect(ok).toContain('grant-ACC-7  ACC-7  Figma / editor  revoked  chain ✓ verified\n');
    expect(ok).toContain(`  requested  by ${NINA} in jira at ${at(0)}, for ${NINA}, PT24H: design reviews\n`);
    expect(ok).toContain(`  approved   step 1: ${MARIA} (slack) at ${at(60)}\n`);
    expect(ok).toContain('  group      okta group 00gfigmaeditor\n');
    expect(ok).toContain(`  started    ${at(61)}\n`);
    expect(ok).toContain(`  expires    ${at(61 + 86_400)}\n`);
    expect(ok).toContain(`  revoked    yes, at ${at(61 + 86_400 + 42)} (expired; scheduled for ${at(61 + 86_400)}, 42 s late) by scheduler: revoked\n`);
    expect(ok.trimEnd().split('\n').at(-1)).toBe('1 grant(s): 1 chain(s) verified, 0 broken; 0 flagged');
    expect(bad).toContain('chain ✗ 1 break\n');
    expect(bad).toContain('  BROKEN edited grant-ACC-7 approved#0 seq 2: its content gives hash a, but it was sealed as b\n');
    expect(userReportText(report())).toContain('chain not checked');
  });

  it('text: a flagged story says each flag', () => {
    const g = grant();
    const flagged = { user: NINA, generatedAt: NOW.toISOString(), grants: [storyOf(record(g, [requested(), provisioned()]), NOW, [])] };

    const text = userReportText(flagged);

    expect(text).toContain('  FLAG       access given without an approval decision in the evidence');
    expect(text).toContain(`  FLAG       active 8 d 23 h past its expiry (${g.expiresAt})`);
    expect(text).toContain('1 flagged');
  });

  it('JSON: each story and the counts', () => {
    const body = JSON.parse(userReportJson(report(broken))) as Record<string, unknown> & { grants: Array<{ chain: { status: string } }> };

    expect(body).toMatchObject({ user: NINA, count: 1, verified: 0, broken: 1, flagged: 0 });
    expect(body.grants[0]!.chain).toEqual({ status: 'broken', breaks: broken });
  });

  it('CSV: the columns of grants.csv; Markdown: one table row per grant, pipes escaped, the breaks listed', () => {
    const r = expiredRecord();
    r.grant.justification = 'a | b';
    const md = userReportMarkdown({ user: NINA, generatedAt: NOW.toISOString(), grants: [storyOf(r, NOW, broken)] });

    expect(userReportCsv(report([])).split('\r\n')[0]).toBe(GRANT_COLUMNS.join(','));
    expect(md).toContain('| Grant | Requested | Approved by | Group | Started | Expires | Revoked | Chain | Flags |');
    expect(md).toContain('a \\| b');
    expect(md).toContain('✗ 1 break');
    expect(md).toContain('## Flags and breaks\n\n- BROKEN edited grant-ACC-7 approved#0 seq 2');
  });
});

describe("the pack's summary", () => {
  const anchor: Anchor = {
    day: '2026-02-03',
    anchoredAt: '2026-02-04T00:05:00.000Z',
    root: 'ab'.repeat(32),
    heads: [{ grantId: 'grant-ACC-7', seq: 4, hash: 'cd'.repeat(32) }],
    copy: 's3://anchors/2026-02-03',
  };

  it('counts each file, the median approval time, the lateness percentiles, the chain check and the anchors with their roots', () => {
    const md = packSummaryMarkdown({
      from: '2026-01-01',
      to: '2026-03-31',
      generatedAt: NOW.toISOString(),
      files: { 'grants.csv': 3, 'decisions.csv': 5 },
      approvalSeconds: [60, 120, 3600],
      personApprovalSeconds: [120, 3600],
      lateness: Array.from({ length: 100 }, (_, i) => i + 1),
      verify: { chains: 3, events: 12, breaks: [] },
      anchors: [{ anchor }],
      notes: ['Drift findings are not in this pack.'],
    });

    expect(md).toContain('# Access audit pack: 2026-01-01 to 2026-03-31');
    expect(md).toContain('| grants.csv | 3 |\n| decisions.csv | 5 |');
    expect(md).toContain('Median approval time (request to the approval that completed it): 2 min over 3 approved grant(s); approved by people: 2 min over 2.');
    expect(md).toContain('over 100 revocation(s): p50 50 s, p99 1 min 39 s, max 1 min 40 s');
    expect(md).toContain('Verified 3 chain(s) (12 events) of the grants in this pack and 1 anchor(s): intact.');
    expect(md).toContain(`| 2026-02-03 | 2026-02-04T00:05:00.000Z | 1 | \`${'ab'.repeat(32)}\` | s3://anchors/2026-02-03 |`);
    expect(md).toContain('## Notes\n\n- Drift findings are not in this pack.');
  });

  it('names each break, and says when nothing was timed or anchored', () => {
    const md = packSummaryMarkdown({
      from: '2026-01-01',
      to: '2026-01-31',
      generatedAt: NOW.toISOString(),
      files: {},
      approvalSeconds: [],
      personApprovalSeconds: [],
      lateness: [],
      verify: { chains: 1, events: 4, breaks: [{ grantId: 'g1', kind: 'missing', seq: 3, detail: 'the event before it is not in the ledger' }] },
      anchors: [],
      notes: [],
    });

    expect(md).toContain('1 break(s):\n- `BROKEN missing g1 - seq 3: the event before it is not in the ledger`');
    expect(md).toContain('p50 n/a, p99 n/a, max n/a');
    expect(md).toContain('None: no anchor was written for a day of this period.');
  });

  it('percentile is the nearest rank; durations read as a person says them', () => {
    expect(percentile([], 50)).toBeUndefined();
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([3, 1, 2, 4], 50)).toBe(2);
    expect(percentile([3, 1, 2, 4], 99)).toBe(4);
    expect([42, 301, 7260, 3 * 86_400 + 4 * 3600].map(describeSeconds)).toEqual(['42 s', '5 min 1 s', '2 h 1 min', '3 d 4 h']);
  });
});
