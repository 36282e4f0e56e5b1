/**
 * Talking to the Grantline under test from outside, as Jira, Slack and an auditor do: every call
 * is retried while the runtime is down (it is killed on purpose) or answers 5xx, within a bound.
 * Also reads the simulated Slack for who received an approval message.
 */
import type { Sandbox, SandboxClient, RequestForm } from '../../infra/local/sandbox/index.js';
import type { StoredChain } from '../../shared/ledger-audit.js';

export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** The parts of GET /grants/{id} the soak reads (kept local: the core's types are being reworked). */
export interface SoakGrant {
  id: string;
  issueKey: string;
  requester: string;
  subject: string;
  app: string;
  role: string;
  provider?: string;
  groupId?: string;
  manual: boolean;
  duration: string;
  status: string;
  steps?: Array<{ approvers: string[] }>;
  currentStep?: number;
  decidedBy?: string;
  expiresAt?: string;
  revokedAt?: string;
  failure?: string;
  denialReason?: string;
}

export interface SoakEvent {
  key: string;
  type: string;
  at: string;
  summary: string;
}

export interface SoakRecord {
  grant: SoakGrant;
  answers: { approvedBy?: Array<{ by: string; step: number }> };
  evidence: SoakEvent[];
}

export const IN_PROGRESS = ['requested', 'pending_approval', 'approved'];

const CALL_DEADLINE_MS = 120_000;

export class Grantline {
  constructor(
    private readonly client: SandboxClient,
    private readonly auditToken: string,
    private readonly grantlineUrl: string,
  ) {}

  /** Files the issue, then delivers its webhook (the issue is created once; the webhook is re-sent, as Jira retries it). */
  async fileRequest(form: RequestForm): Promise<Answer & { issueKey: string }> {
    const issueKey = this.client.fileIssue(form);
    return { ...(await this.resendIssueCreated(issueKey, form)), issueKey };
  }

  resendIssueCreated(issueKey: string, form: RequestForm): Promise<Answer> {
    return retrying(() => this.client.sendIssueCreated(issueKey, form));
  }

  click(email: string, grantId: string, step: number, decision: 'approve' | 'deny'): Promise<Answer> {
    return retrying(() => this.client.click(email, grantId, step, decision));
  }

  revoke(grantId: string, reason: 'early_release' | 'access_review', by: string): Promise<Answer> {
    return retrying(() =>
      this.client.post(`/grants/${encodeURIComponent(grantId)}/revoke`, JSON.stringify({ reason, by }), {
        'content-type': 'application/json',
        authorization: `Bearer ${this.auditToken}`,
      }),
    );
  }

  /** The grant's hash chain as stored (GET /audit/chains?grant=): its events with their links, and its head. */
  async chain(grantId: string): Promise<StoredChain | undefined> {
    const answer = await retrying(async () => {
      const res = await fetch(`${this.grantlineUrl}/audit/chains?grant=${encodeURIComponent(grantId)}`, {
        headers: { authorization: `Bearer ${this.auditToken}` },
      });
      return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
    });
    return answer.status === 200 ? (answer.body.chains as StoredChain[])[0] : undefined;
  }

  async record(grantId: string): Promise<SoakRecord | undefined> {
    const answer = await retrying(async () => {
      const res = await fetch(`${this.grantlineUrl}/grants/${encodeURIComponent(grantId)}`, { headers: { authorization: `Bearer ${this.auditToken}` } });
      return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
    });
    return answer.status === 200 ? (answer.body as unknown as SoakRecord) : undefined;
  }

  /** Polls the grant until the condition holds; undefined when it does not within the time. */
  async waitFor(grantId: string, condition: (grant: SoakGrant) => boolean, timeoutMs: number): Promise<SoakGrant | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const grant = (await this.record(grantId))?.grant;
      if (grant && condition(grant)) return grant;
      await sleep(1000);
    }
    return undefined;
  }
}

/** Approval messages in the simulated Slack, indexed by their button value (grantId:step). */
export class SlackInbox {
  private index = new Map<string, Set<string>>();
  private seen = 0;

  constructor(private readonly sandbox: Sandbox) {}

  /** Who has received the approval message for this step. */
  recipients(grantId: string, step: number): string[] {
    this.refresh();
    return [...(this.index.get(`${grantId}:${step}`) ?? [])];
  }

  /** Waits until someone received the approval message for the step, or the grant moved on. */
  async waitForMessage(grantId: string, step: number, stillWaiting: () => Promise<boolean>, timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let nextStatusCheck = Date.now() + 2000;
    while (Date.now() < deadline) {
      const recipients = this.recipients(grantId, step);
      if (recipients.length > 0) return recipients;
      if (Date.now() > nextStatusCheck) {
        if (!(await stillWaiting())) return [];
        nextStatusCheck = Date.now() + 2000;
      }
      await sleep(250);
    }
    return [];
  }

  private refresh(): void {
    // Only the messages not read yet: copying all of them on every poll made a long soak quadratic.
    const fresh = this.sandbox.slack.messages(this.seen);
    if (fresh.length === 0) return;
    const emails = new Map(this.sandbox.slack.users().map((u) => [u.id, u.email]));
    for (const message of fresh) {
      for (const match of JSON.stringify(message.blocks).matchAll(/"value":"([^"]+:\d+)"/g)) {
        const key = match[1]!;
        const recipients = this.index.get(key) ?? new Set<string>();
        recipients.add(emails.get(message.user) ?? message.user);
        this.index.set(key, recipients);
      }
    }
    this.seen += fresh.length;
  }
}

/** Retries while the runtime is unreachable or answers 5xx, as Jira and Slack retry deliveries. */
export async function retrying(call: () => Promise<Answer>): Promise<Answer> {
  const deadline = Date.now() + CALL_DEADLINE_MS;
  let wait = 250;
  for (;;) {
    let last: Answer | Error;
    try {
      last = await call();
      if (last.status < 500) return last;
    } catch (err) {
      last = err instanceof Error ? err : new Error(String(err));
    }
    if (Date.now() > deadline) {
      if (last instanceof Error) throw last;
      return last;
    }
    await sleep(wait);
    wait = Math.min(wait * 2, 2000);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
