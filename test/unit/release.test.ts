/**
 * Early release ("I'm done", shared/release.ts) as the people involved see it: who is offered the
 * button, who may end the access, what is receipted, recorded and handed to the revoke job, what the
 * message shows after the click; and the revoke evidence naming who released it.
 */
import type { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LambdaJobs } from '../../shared/aws/jobs.js';
import type { ManualClock } from '../../shared/clock.js';
import { ConfigurationError } from '../../shared/errors.js';
import type { EvidenceEvent } from '../../shared/grants/model.js';
import { provision } from '../../shared/provisioning.js';
import { releaseReceiptKey, requestRelease } from '../../shared/release.js';
import { revoke } from '../../shared/revocation.js';
import type { LifecycleDeps } from '../../shared/services.js';
import type { TestDynamo } from '../support/dynamo.js';
import { approvedGrant, type Directory, ELI, MARIA, type Recorder, startUnitWorld } from '../support/fakes.js';

const NINA = 'nina.newhire@example.com';
const MALLORY = 'mallory.intruder@example.com';
const GROUP = '00gfigmaeditor';
const MESSAGE = { channel: 'D-U-eli', ts: '1700000000.000100' };

let dynamo: TestDynamo;
let clock: ManualClock;
let directory: Directory;
let ports: Recorder;
let deps: LifecycleDeps;

beforeEach(async () => {
  ({ dynamo, clock, directory, ports, deps } = await startUnitWorld());
  directory.users[NINA] = { id: 'u-nina', email: NINA, active: true, managerEmail: MARIA };
});
afterEach(async () => dynamo.close());

async function activeGrant(issueKey: string, request: { subject?: string } = {}): Promise<string> {
  const id = await approvedGrant(deps, { issueKey, ...request });
  await provision(deps, id);
  return id;
}

async function events(grantId: string, type: string): Promise<EvidenceEvent[]> {
  return (await dynamo.store.evidence(grantId)).filter((e) => e.type === type);
}

const click = (grantId: string, clickerEmail: string | undefined, message: typeof MESSAGE | undefined = MESSAGE) => ({
  grantId,
  clickerEmail,
  clickerRef: clickerEmail ? `U-${clickerEmail}` : 'U0HIDDEN',
  ...(message ? { message } : {}),
});

describe('who is offered "I\'m done"', () => {
  it('the person who asked for themselves: the "Access granted" message carries the button with the grant id', async () => {
    const id = await activeGrant('ACC-1');

    expect(ports.notices.filter((n) => n.text.startsWith('Access granted:'))).toEqual([
      { to: `U-${ELI}`, text: expect.stringMatching(/^Access granted: eli\.engineer@example\.com now has Figma editor until /), release: id },
      // The approver's copy, in the thread of the approval message: plain text.
      { to: 'D-U-maria.manager@example.com/1.1', text: expect.stringMatching(/^Access granted:/) },
    ]);
  });

  it('the person the access is for, not the requester who asked for them', async () => {
    const id = await activeGrant('ACC-1', { subject: NINA });

    const granted = ports.notices.filter((n) => n.text.startsWith('Access granted:'));
    expect(granted.find((n) => n.to === `U-${NINA}`)?.release).toBe(id);
    expect(granted.find((n) => n.to === `U-${ELI}`)).toBeDefined();
    expect(granted.filter((n) => n.release)).toHaveLength(1);
  });

  it('nobody, when the membership existed before the grant (Grantline never removes it)', async () => {
    directory.groups.set(GROUP, new Set(['u-eli']));

    await activeGrant('ACC-1');

    expect(ports.notices.filter((n) => n.text.startsWith('Access granted:'))).not.toEqual([]);
    expect(ports.notices.filter((n) => n.release)).toEqual([]);
  });
});

describe('a click on "I\'m done"', () => {
  it('by the person who holds the access: receipted, recorded, handed to the revoke job, and the message loses its button', async () => {
    const id = await activeGrant('ACC-1');
    clock.advance(3_600_000);

    expect(await requestRelease(deps, click(id, ELI))).toEqual({ outcome: 'accepted' });

    expect(ports.releaseJobs).toEqual([{ grantId: id, actor: ELI }]);
    expect(await dynamo.store.commands.get(releaseReceiptKey(id))).toEqual({ receivedAt: '2026-03-02T10:00:00.000Z' });
    expect(await events(id, 'release_requested')).toEqual([
      expect.objectContaining({
        actor: ELI,
        via: 'slack',
        at: '2026-03-02T10:00:00.000Z',
        summary: `${ELI} ended the access early in Slack ("I'm done"); Grantline removes it now`,
        details: { 'Released by': `${ELI} (whose access it is)`, 'Scheduled end': '2026-03-03T09:00:00.000Z' },
      }),
    ]);
    expect(ports.releasedMessages).toEqual([
      {
        message: `${MESSAGE.channel}/${MESSAGE.ts}`,
        text: `Access granted: ${ELI} now has Figma editor until 2026-03-03T09:00:00.000Z (ACC-1).`,
        outcome: `Released early by ${ELI} at 2026-03-02 10:00 UTC: Grantline is removing the access now (ACC-1 records when it has ended).`,
      },
    ]);
    // Only the job ends it: nothing was removed inside Slack's 3 seconds.
    expect((await dynamo.store.getGrant(id))?.status).toBe('active');
  });

  it('twice (a double click, a replayed payload): the second finds it under way and hands nothing over', async () => {
    const id = await activeGrant('ACC-1');

    await requestRelease(deps, click(id, ELI));
    const again = await requestRelease(deps, click(id, ELI));

    expect(again).toEqual({ outcome: 'under_way', reason: 'this access is already being released' });
    expect(ports.releaseJobs).toHaveLength(1);
    expect(await events(id, 'release_requested')).toHaveLength(1);
  });

  it('by the requester who asked for someone else: accepted, and the evidence says so', async () => {
    const id = await activeGrant('ACC-1', { subject: NINA });

    expect(await requestRelease(deps, click(id, ELI))).toEqual({ outcome: 'accepted' });

    expect(ports.releaseJobs).toEqual([{ grantId: id, actor: ELI }]);
    expect((await events(id, 'release_requested'))[0]?.details['Released by']).toBe(`${ELI} (who asked for it)`);
  });

  it('by anyone else: refused, recorded with who and why, and nothing handed over or shown on the message', async () => {
    const id = await activeGrant('ACC-1', { subject: NINA });

    const result = await requestRelease(deps, click(id, MALLORY));

    const reason = `only ${NINA}, whose access it is, or ${ELI}, who asked for it, can end it early`;
    expect(result).toEqual({ outcome: 'refused', reason });
    expect(ports.releaseJobs).toEqual([]);
    expect(ports.releasedMessages).toEqual([]);
    expect(await dynamo.store.commands.get(releaseReceiptKey(id))).toBeUndefined();
    expect(await events(id, 'release_refused')).toEqual([
      expect.objectContaining({
        actor: MALLORY,
        via: 'slack',
        summary: `refused an early release ("I'm done") by ${MALLORY}: ${reason}`,
        details: { 'Grant status': 'active' },
      }),
    ]);
    // Evidence of a refusal waits for the next delivery (Slack allows 3 s): nothing was posted to Jira in the click.
    expect(ports.comments.filter((c) => c.includes('refused an early release'))).toEqual([]);
  });

  it('by someone whose email Slack will not show: refused (fail closed), and recorded under their Slack id', async () => {
    const id = await activeGrant('ACC-1');

    const result = await requestRelease(deps, click(id, undefined));

    expect(result).toEqual({ outcome: 'refused', reason: 'Grantline cannot see your email address in Slack, so it cannot check that this access is yours' });
    expect((await events(id, 'release_refused'))[0]?.actor).toBe('Slack user U0HIDDEN');
    expect(ports.releaseJobs).toEqual([]);
  });

  it('on an access that has already ended: says so, shows it on the message, and changes nothing', async () => {
    const id = await activeGrant('ACC-1');
    clock.advance(60_000);
    await revoke(deps, { grantId: id, reason: 'access_review', actor: 'rita.reviewer@example.com' });
    const before = await dynamo.store.evidence(id);

    const result = await requestRelease(deps, click(id, ELI));

    expect(result).toEqual({ outcome: 'already_ended', reason: 'This access already ended at 2026-03-02 09:01 UTC (access review)' });
    expect(ports.releaseJobs).toEqual([]);
    expect(ports.releasedMessages.map((m) => m.outcome)).toEqual(['This access already ended at 2026-03-02 09:01 UTC (access review).']);
    expect(await dynamo.store.evidence(id)).toEqual(before);
    expect(await dynamo.store.commands.get(releaseReceiptKey(id))).toBeUndefined();
  });

  it('on a grant Grantline does not know: refused, nothing recorded', async () => {
    expect(await requestRelease(deps, click('grant-NOPE-1', ELI))).toEqual({ outcome: 'refused', reason: 'this access is unknown to Grantline' });
    expect(ports.releaseJobs).toEqual([]);
  });

  it('when the job cannot be handed over: the receipt is taken back, so the next click releases (recorded once)', async () => {
    const id = await activeGrant('ACC-1');
    const failing = {
      ...deps,
      jobs: {
        ...ports,
        fileRequest: ports.fileRequest.bind(ports),
        offboard: ports.offboard.bind(ports),
        campaignRevoke: ports.campaignRevoke.bind(ports),
        release: async () => Promise.reject(new Error('Lambda throttled the invoke')),
      },
    };

    await expect(requestRelease(failing, click(id, ELI))).rejects.toThrow('Lambda throttled the invoke');
    expect(ports.releasedMessages).toEqual([]);

    expect(await requestRelease(deps, click(id, ELI))).toEqual({ outcome: 'accepted' });
    expect(ports.releaseJobs).toEqual([{ grantId: id, actor: ELI }]);
    expect(await events(id, 'release_requested')).toHaveLength(1);
  });

  it('a message Slack will not update does not undo the release', async () => {
    const id = await activeGrant('ACC-1');
    const chat = Object.assign(Object.create(ports) as Recorder, { showReleased: async () => Promise.reject(new Error('message_not_found')) });

    expect(await requestRelease({ ...deps, chat }, click(id, ELI))).toEqual({ outcome: 'accepted' });
    expect(ports.releaseJobs).toHaveLength(1);
  });
});

describe('the revocation that follows', () => {
  it('names who released it in the evidence; the requester is told in their words', async () => {
    const id = await activeGrant('ACC-1');

    await revoke(deps, { grantId: id, reason: 'early_release', actor: ELI });

    const [revoked] = await events(id, 'revoked');
    expect(revoked).toMatchObject({ actor: ELI, summary: `removed ${ELI} from okta group ${GROUP} (released early by ${ELI})` });
    expect(revoked?.details.Reason).toBe('early release');
    expect(ports.publicComments.at(-1)).toBe('Your access has ended: it was released early.');
    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'revoked', revokeReason: 'early_release' });
  });
});

describe('the release job in AWS', () => {
  it('invokes the revoke function asynchronously with its Revoke task input', async () => {
    const sent: InvokeCommand[] = [];
    const client = { send: async (command: InvokeCommand) => sent.push(command) } as unknown as LambdaClient;

    await new LambdaJobs({ revoke: 'arn:aws:lambda:eu-west-1:123456789012:function:grantline-revoke' }, client).release({ grantId: 'grant-ACC-1', actor: ELI });

    expect(sent.map((c) => c.input)).toEqual([
      {
        FunctionName: 'arn:aws:lambda:eu-west-1:123456789012:function:grantline-revoke',
        InvocationType: 'Event',
        Payload: JSON.stringify({ grantId: 'grant-ACC-1', reason: 'early_release', actor: ELI }),
      },
    ]);
  });

  it('without the revoke function configured: a ConfigurationError naming the setting', async () => {
    const client = { send: async () => undefined } as unknown as LambdaClient;
    const jobs = new LambdaJobs({ fileRequest: 'grantline-file-request' }, client);

    await expect(jobs.release({ grantId: 'grant-ACC-1', actor: ELI })).rejects.toThrow(ConfigurationError);
    await expect(jobs.release({ grantId: 'grant-ACC-1', actor: ELI })).rejects.toThrow(/GRANTLINE_REVOKE_FUNCTION_ARN/);
  });
});
