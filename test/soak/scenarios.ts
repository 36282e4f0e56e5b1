/**
 * What the soak asks Grantline to do: a seeded plan of request scenarios (auto approvals, Slack
 * approvals and denials, click races, duplicate webhooks, twin requests, early releases and review
 * revocations, manual roles), each played through the public surfaces, each recording the
 * outcomes it would accept for the grants it made.
 */
import type { RequestForm } from '../../infra/local/sandbox/index.js';
import { IN_PROGRESS, type Answer, type Grantline, type SlackInbox } from './grantline.js';
import { normalEmail, STRANGER, type Population, type SoakRole } from './population.js';
import type { Random } from './random.js';

export type ScenarioKind =
  | 'auto'
  | 'approve'
  | 'deny'
  | 'click_race'
  | 'ignored'
  | 'duplicate_webhook'
  | 'twins'
  | 'early_release'
  | 'review_revoke'
  | 'manager_for_report'
  | 'manual';

const WEIGHTS: ReadonlyArray<readonly [ScenarioKind, number]> = [
  ['auto', 20],
  ['approve', 18],
  ['deny', 7],
  ['click_race', 10],
  ['ignored', 2],
  ['duplicate_webhook', 8],
  ['twins', 10],
  ['early_release', 8],
  ['review_revoke', 6],
  ['manager_for_report', 5],
  ['manual', 3],
];

/** Final statuses a scenario accepts; "granted" grants end active (permanent, manual) or revoked (fell due). */
const GRANTED = ['active', 'revoked'];
const DENIED = ['denied'];
const DECIDED_EITHER_WAY = ['active', 'revoked', 'denied'];
const REVOKED = ['revoked'];

export interface Expectation {
  grantId: string;
  issueKey: string;
  scenario: ScenarioKind;
  outcomes: string[];
}

export interface PlannedScenario {
  index: number;
  kind: ScenarioKind;
  /** How many requests (Jira issues) it files. */
  requests: number;
  rng: Random;
}

/** Plans scenarios until they file exactly `requests` requests. */
export function planScenarios(rng: Random, requests: number): PlannedScenario[] {
  const plan: PlannedScenario[] = [];
  let filed = 0;
  while (filed < requests) {
    let kind = rng.weighted(WEIGHTS);
    if (kind === 'twins' && requests - filed < 2) kind = 'auto';
    const count = kind === 'twins' ? 2 : 1;
    plan.push({ index: plan.length, kind, requests: count, rng: rng.fork(plan.length) });
    filed += count;
  }
  return plan;
}

export interface ScenarioContext {
  grantline: Grantline;
  inbox: SlackInbox;
  population: Population;
  expect(expectation: Expectation): void;
  /** Called once per request filed (the soak restarts the runtime and starts outages by this count). */
  filed(): void;
  /** Something a scenario could not do (a webhook never accepted, a wait that ran out). */
  problem(grantId: string, detail: string): void;
}

const APPROVAL_WAIT_MS = 120_000;
const ACTIVE_WAIT_MS = 180_000;

export async function runScenario(ctx: ScenarioContext, planned: PlannedScenario): Promise<void> {
  const player = new ScenarioPlayer(ctx, planned);
  await player.play();
}

class ScenarioPlayer {
  private readonly rng: Random;

  constructor(
    private readonly ctx: ScenarioContext,
    private readonly planned: PlannedScenario,
  ) {
    this.rng = planned.rng;
  }

  async play(): Promise<void> {
    switch (this.planned.kind) {
      case 'auto':
        return this.autoApproved();
      case 'approve':
        return this.approved({ withStrangers: this.rng.chance(0.3) });
      case 'deny':
        return this.denied();
      case 'click_race':
        return this.clickRace();
      case 'ignored':
        return this.ignored();
      case 'duplicate_webhook':
        return this.duplicateWebhooks();
      case 'twins':
        return this.twins();
      case 'early_release':
        return this.revokedEarly('early_release');
      case 'review_revoke':
        return this.revokedEarly('access_review');
      case 'manager_for_report':
        return this.managerForReport();
      case 'manual':
        return this.manual();
    }
  }

  private async autoApproved(): Promise<void> {
    const role = this.rng.pick(this.ctx.population.autoRoles());
    await this.file(this.formFor(role, this.employee()), GRANTED);
  }

  private async approved(opts: { withStrangers: boolean }): Promise<void> {
    const role = this.rng.pick(this.ctx.population.approvedRoles());
    const form = this.formFor(role, this.employee());
    const grantId = await this.file(form, GRANTED);
    if (grantId) await this.decideEverySteps(grantId, form, () => 'approve', opts);
  }

  private async denied(): Promise<void> {
    const role = this.rng.pick(this.ctx.population.approvedRoles());
    const form = this.formFor(role, this.employee());
    const grantId = await this.file(form, DENIED);
    const denyAt = this.rng.int(0, role.steps - 1);
    if (grantId) await this.decideEverySteps(grantId, form, (step) => (step === denyAt ? 'deny' : 'approve'));
  }

  /** Two clicks at once on one step: a double click, approve against deny, or two approvers of a group. */
  private async clickRace(): Promise<void> {
    const role = this.rng.pick(this.ctx.population.approvedRoles());
    const form = this.formFor(role, this.employee());
    const variant = this.rng.pick(['double_approve', 'approve_and_deny'] as const);
    const grantId = await this.file(form, variant === 'double_approve' ? GRANTED : DECIDED_EITHER_WAY);
    if (!grantId) return;
    const first = await this.waitForApprovers(grantId, 0);
    if (!first) return;
    const [a, b] = first.length > 1 ? [first[0]!, first[1]!] : [first[0]!, first[0]!];
    const decisions = variant === 'double_approve' ? (['approve', 'approve'] as const) : (['approve', 'deny'] as const);
    await Promise.all([this.ctx.grantline.click(a, grantId, 0, decisions[0]), this.ctx.grantline.click(b, grantId, 0, decisions[1])]);
    await this.decideEverySteps(grantId, form, () => 'approve', { fromStep: 1 });
  }

  /** Nobody decides: the approval times out and the request is denied. */
  private async ignored(): Promise<void> {
    const role = this.rng.pick(this.ctx.population.approvedRoles());
    await this.file(this.formFor(role, this.employee()), DENIED);
  }

  private async duplicateWebhooks(): Promise<void> {
    const role = this.rng.pick([...this.ctx.population.autoRoles(), ...this.ctx.population.approvedRoles()]);
    const form = this.formFor(role, this.employee());
    const grantId = await this.file(form, GRANTED, { duplicates: this.rng.int(1, 3) });
    if (grantId && !role.auto) await this.decideEverySteps(grantId, form, () => 'approve');
  }

  /** Two requests for the same person and group at once, the second with the email in another case. */
  private async twins(): Promise<void> {
    const role = this.rng.pick([...this.ctx.population.autoRoles(), ...this.ctx.population.managerRoles()]);
    const subject = this.employee();
    const duration = this.rng.pick(role.durations);
    const forms = [this.formFor(role, subject, duration), this.formFor(role, caseVariant(subject), duration)];
    const releaseOne = this.rng.chance(0.3);
    await Promise.all(
      forms.map(async (form, i) => {
        const released = releaseOne && i === 0;
        const grantId = await this.file(form, released ? REVOKED : GRANTED);
        if (!grantId) return;
        if (!role.auto) await this.decideEverySteps(grantId, form, () => 'approve');
        if (released) await this.revokeWhenActive(grantId, 'early_release', normalEmail(subject));
      }),
    );
  }

  private async revokedEarly(reason: 'early_release' | 'access_review'): Promise<void> {
    const role = this.rng.pick([...this.ctx.population.autoRoles(), ...this.ctx.population.approvedRoles()]);
    const subject = this.employee();
    const form = this.formFor(role, subject, this.longestDuration(role));
    const grantId = await this.file(form, REVOKED);
    if (!grantId) return;
    if (!role.auto) await this.decideEverySteps(grantId, form, () => 'approve');
    await this.revokeWhenActive(grantId, reason, reason === 'early_release' ? subject : role.owner);
  }

  /**
   * A manager asks for a report: the app owner decides, and the manager's own click is refused.
   * Half the time the automation rule leaves a stray space around the manager's email.
   */
  private async managerForReport(): Promise<void> {
    const role = this.rng.pick(this.ctx.population.managerRoles());
    const subject = this.employee();
    const manager = this.ctx.population.managerOf(subject);
    const reporter = this.rng.chance(0.5) ? ` ${manager} ` : manager;
    const form = { ...this.formFor(role, subject), reporter };
    const grantId = await this.file(form, GRANTED, { mayBeRefused: reporter !== manager });
    if (!grantId) return;
    const approvers = await this.waitForApprovers(grantId, 0);
    if (!approvers) return;
    await this.ctx.grantline.click(manager, grantId, 0, 'approve');
    await this.decideEverySteps(grantId, form, () => 'approve');
  }

  private async manual(): Promise<void> {
    const role = this.rng.pick(this.ctx.population.manualRoles());
    const form = this.formFor(role, this.employee());
    const grantId = await this.file(form, ['active']);
    if (grantId) await this.decideEverySteps(grantId, form, () => 'approve');
  }

  // ---- steps shared by the scenarios

  /** Files the request (and duplicate webhooks), records what it expects; the grant id, or undefined when refused. */
  private async file(form: RequestForm, outcomes: string[], opts: { duplicates?: number; mayBeRefused?: boolean } = {}): Promise<string | undefined> {
    const filed = await this.ctx.grantline.fileRequest(form);
    this.ctx.filed();
    const duplicates = Array.from({ length: opts.duplicates ?? 0 }, () => this.ctx.grantline.resendIssueCreated(filed.issueKey, form));
    const grantId = typeof filed.body.grantId === 'string' ? filed.body.grantId : undefined;
    if (!grantId) {
      if (!(opts.mayBeRefused && filed.status >= 400 && filed.status < 500)) {
        this.ctx.problem(`(issue ${filed.issueKey})`, `the webhook was not accepted: ${describe(filed)}`);
      }
      await Promise.all(duplicates);
      return undefined;
    }
    this.ctx.expect({ grantId, issueKey: filed.issueKey, scenario: this.planned.kind, outcomes });
    for (const duplicate of await Promise.all(duplicates)) {
      if (duplicate.body.grantId !== grantId) this.ctx.problem(grantId, `a duplicate webhook answered ${describe(duplicate)}`);
    }
    return grantId;
  }

  /**
   * Decides each approval step in turn as someone who received its Slack message (never the
   * requester or subject), optionally with a stranger and the subject clicking at the same time.
   */
  private async decideEverySteps(
    grantId: string,
    form: RequestForm,
    decisionAt: (step: number) => 'approve' | 'deny',
    opts: { withStrangers?: boolean; fromStep?: number } = {},
  ): Promise<void> {
    const excluded = new Set([normalEmail(form.reporter), normalEmail(form.subject)]);
    for (let step = opts.fromStep ?? 0; step < 4; step++) {
      const approvers = await this.waitForApprovers(grantId, step);
      if (!approvers) return;
      const eligible = approvers.filter((a) => !excluded.has(normalEmail(a)));
      if (eligible.length === 0) return;
      const decision = decisionAt(step);
      const clicks = [this.ctx.grantline.click(this.rng.pick(eligible), grantId, step, decision)];
      if (opts.withStrangers)
        clicks.push(
          this.ctx.grantline.click(STRANGER, grantId, step, 'approve'),
          this.ctx.grantline.click(normalEmail(form.subject), grantId, step, 'approve'),
        );
      await Promise.all(clicks);
      if (decision === 'deny') return;
    }
  }

  /** Who received the step's approval message; undefined once the grant no longer waits for that step. */
  private async waitForApprovers(grantId: string, step: number): Promise<string[] | undefined> {
    const stillWaiting = async () => {
      const grant = (await this.ctx.grantline.record(grantId))?.grant;
      return Boolean(grant && IN_PROGRESS.includes(grant.status) && (grant.currentStep ?? 0) <= step);
    };
    const recipients = await this.ctx.inbox.waitForMessage(grantId, step, stillWaiting, APPROVAL_WAIT_MS);
    if (recipients.length > 0) return recipients;
    const grant = (await this.ctx.grantline.record(grantId))?.grant;
    if (grant?.status === 'denied' && /no decision/i.test(grant.denialReason ?? '')) {
      this.ctx.problem(grantId, `no approver ever received the Slack message for step ${step + 1}, and the request timed out (${grant.denialReason})`);
    }
    return undefined;
  }

  private async revokeWhenActive(grantId: string, reason: 'early_release' | 'access_review', by: string): Promise<void> {
    const grant = await this.ctx.grantline.waitFor(grantId, (g) => !IN_PROGRESS.includes(g.status), ACTIVE_WAIT_MS);
    // Already expired, denied or failed: the final check judges the outcome.
    if (grant?.status !== 'active') return;
    const answer = await this.ctx.grantline.revoke(grantId, reason, normalEmail(by));
    if (answer.status !== 200) this.ctx.problem(grantId, `revoke (${reason}) answered ${describe(answer)}`);
  }

  private formFor(role: SoakRole, subject: string, duration = this.rng.pick(role.durations)): RequestForm {
    return {
      reporter: subject,
      subject,
      app: role.appName,
      role: role.role,
      duration,
      justification: `soak scenario ${this.planned.index} (${this.planned.kind})`,
    };
  }

  private employee(): string {
    return this.rng.pick(this.ctx.population.employees);
  }

  /** Permanent when the role allows it (so the revocation comes before any expiry), else its longest duration. */
  private longestDuration(role: SoakRole): string {
    return role.durations.includes('permanent') ? 'permanent' : role.durations.at(-1)!;
  }
}

/** The same address in another case (Ana.Soak@Example.COM). */
function caseVariant(email: string): string {
  const [local = '', domain = ''] = email.split('@');
  return `${local.charAt(0).toUpperCase()}${local.slice(1)}@${domain.toUpperCase()}`;
}

function describe(answer: Answer): string {
  return `${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`;
}
