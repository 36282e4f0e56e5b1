/** `/access` in Slack files the Jira issue first (Jira is the system of record), then the request flows as any other. */
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { finished } from '../support/wait.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function command(harness: Harness, email: string, text: string) {
  const user = harness.sandbox.slack.users().find((u) => u.email === email)!;
  const body = new URLSearchParams({ command: '/access', text, user_id: user.id, team_id: 'TSANDBOX', response_url: 'https://hooks.slack.com/commands/x' }).toString();
  return harness.client.postSlack('/webhooks/slack/commands', body, Math.floor(harness.clock.now().getTime() / 1000));
}

describe('/access', () => {
  it('files a Jira issue with the request fields, then grants through the same workflow', async () => {
    h = await startHarness();

    const res = await command(h, 'maria.manager@example.com', 'notion member permanent for nina.newhire@example.com Company wiki for onboarding');

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ response_type: 'ephemeral', text: 'Filed ACC-1: Notion member for nina.newhire@example.com (permanent). You will hear back here.' });
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
    const res = await h.client.post('/webhooks/slack/commands', 'command=%2Faccess&text=notion+member+permanent+x', { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': '1', 'x-slack-signature': 'v0=00' });
    expect(res.status).toBe(401);
    expect(h.sandbox.jira.issue('ACC-1')).toBeUndefined();
  });
});
