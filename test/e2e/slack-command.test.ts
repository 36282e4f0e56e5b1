/** `/access` in Slack files the Jira issue first (Jira is the system of record), then the request flows as any other. */
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { finished } from '../support/wait.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function commandBody(harness: Harness, email: string, text: string, extra: Record<string, string> = {}): string {
  const user = harness.sandbox.slack.users().find((u) => u.email === email)!;
  return new URLSearchParams({
    command: '/access',
    text,
    user_id: user.id,
    team_id: 'TSANDBOX',
    response_url: 'https://hooks.slack.com/commands/x',
    ...extra,
  }).toString();
}

function command(harness: Harness, email: string, text: string) {
  return send(harness, commandBody(harness, email, text));
}

/** Posts a command body signed with the harness clock's time (or the given one). */
function send(harness: Harness, body: string, timestamp = Math.floor(harness.clock.now().getTime() / 1000)) {
  return harness.client.postSlack('/webhooks/slack/commands', body, timestamp);
}

describe('/access', () => {
  it('files a Jira issue with the request fields, then grants through the same workflow', async () => {
    h = await startHarness();

    const res = await command(h, 'maria.manager@example.com', 'notion member permanent for nina.newhire@example.com Company wiki for onboarding');

    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      response_type: 'ephemeral',
      text: 'Filed ACC-1: Notion member for nina.newhire@example.com (permanent). You will hear back here.',
    });
    const issue = h.sandbox.jira.issue('ACC-1')!;
    expect(issue.fields).toMatchObject({ customfield_10070: 'nina.newhire@example.com', customfield_10071: 'notion', customfield_10072: 'member' });
    await finished(h, 'grant-ACC-1');
    expect(h.sandbox.okta.members('00gnotionmember')).toContain('nina.newhire@example.com');
    expect(h.sandbox.jira.commentTexts('ACC-1')[0]).toContain('requested Notion member for nina.newhire@example.com');
  });

  it('an invalid request files nothing and says what to fix', async () => {
    h = await startHarness();

    const res = await command(h, 'eli.engineer@example.com', 'salesforce admin P7D need it');

    expect(res.body.text).toBe('Nothing was filed:\n• duration P7D (7 days) is longer than the maximum PT24H for Salesforce admin');
    expect(h.sandbox.jira.issue('ACC-1')).toBeUndefined();
  });

  it('a forged command gets 401 and files nothing', async () => {
    h = await startHarness();
    const res = await h.client.post('/webhooks/slack/commands', 'command=%2Faccess&text=notion+member+permanent+x', {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': '1',
      'x-slack-signature': 'v0=00',
    });
    expect(res.status).toBe(401);
    expect(h.sandbox.jira.issue('ACC-1')).toBeUndefined();
  });

  it('the same signed command sent twice files one Jira issue and one grant; the replay is told so', async () => {
    h = await startHarness();
    const body = commandBody(h, 'maria.manager@example.com', 'notion member permanent for nina.newhire@example.com Company wiki for onboarding');
    const timestamp = Math.floor(h.clock.now().getTime() / 1000);

    const first = await send(h, body, timestamp);
    const replay = await send(h, body, timestamp); // byte for byte the same request, still inside the 5-minute window

    expect(first.body.text).toMatch(/^Filed ACC-1: /);
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ response_type: 'ephemeral', text: 'This request was already received: ACC-1.' });
    expect(h.sandbox.jira.issue('ACC-2')).toBeUndefined();
    await finished(h, 'grant-ACC-1');
    expect(await h.runtime.deps.store.grantsOfApp('notion')).toHaveLength(1);
  });

  it('two identical commands at the same moment still file one issue', async () => {
    h = await startHarness();
    const body = commandBody(h, 'maria.manager@example.com', 'notion member permanent for nina.newhire@example.com Company wiki for onboarding');
    const timestamp = Math.floor(h.clock.now().getTime() / 1000);

    const answers = await Promise.all([send(h, body, timestamp), send(h, body, timestamp)]);

    expect(answers.map((a) => a.body.text).filter((t) => String(t).startsWith('Filed '))).toHaveLength(1);
    expect(h.sandbox.jira.issue('ACC-1')).toBeDefined();
    expect(h.sandbox.jira.issue('ACC-2')).toBeUndefined();
  });

  it("Slack's trigger_id names the command: re-signed later with the same trigger_id, it files nothing new", async () => {
    h = await startHarness();
    const body = commandBody(h, 'maria.manager@example.com', 'notion member permanent for nina.newhire@example.com Company wiki', {
      trigger_id: '13345224609.738474920.8088930838d88f008e0',
    });

    await send(h, body);
    h.clock.advance(60_000);
    const again = await send(h, body); // another timestamp, another signature: only trigger_id is the same

    expect(again.body.text).toBe('This request was already received: ACC-1.');
    expect(h.sandbox.jira.issue('ACC-2')).toBeUndefined();
  });

  it('a command whose first attempt stopped after it was recorded is not filed by a replay', async () => {
    h = await startHarness();
    const body = commandBody(h, 'maria.manager@example.com', 'notion member permanent for nina.newhire@example.com Company wiki');
    const timestamp = Math.floor(h.clock.now().getTime() / 1000);
    h.sandbox.jira.fake.injectFault({ method: 'POST', path: '/rest/api/3/issue', status: 500, body: { errorMessages: ['Internal server error'], errors: {} } });

    const first = await send(h, body, timestamp); // the key is recorded, then creating the issue fails
    const replay = await send(h, body, timestamp);

    expect(first.status).toBeGreaterThanOrEqual(500);
    expect(replay.body).toEqual({ response_type: 'ephemeral', text: 'This request was already received.' });
    expect(h.sandbox.jira.issue('ACC-1')).toBeUndefined();
  });
});
