/**
 * `/access` in Slack opens a request form built from the catalog; its submission is answered at once
 * and filed afterwards: the Jira issue first (Jira is the system of record, and the simulated Jira
 * refuses what Jira Cloud refuses), then the grant, which flows as any other.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { REQUEST_FORM } from '../../shared/ports.js';
import { startHarness, type Harness } from '../support/harness.js';
import { eventually, finished } from '../support/wait.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const now = (harness: Harness) => Math.floor(harness.clock.now().getTime() / 1000);

/** Types /access as this person and returns the form it opened. */
async function openForm(harness: Harness, email: string, text = ''): Promise<string> {
  const res = await harness.client.slashAccess(email, text, { timestamp: now(harness) });
  expect(res).toMatchObject({ status: 200 });
  expect(res.viewId).toBeDefined();
  return res.viewId!;
}

/** The form as the person sees it: each input's label and the options it offers. */
function formShown(harness: Harness, viewId: string) {
  interface Input {
    type: string;
    label: { text: string };
    element: { options?: Array<{ value: string }> };
  }
  const view = harness.sandbox.slack.views().find((v) => v.id === viewId)!;
  return (view.blocks as Input[])
    .filter((b) => b.type === 'input')
    .map((b) => ({ label: b.label.text, options: (b.element.options ?? []).map((o) => o.value) }));
}

async function fill(harness: Harness, viewId: string, values: Partial<Record<'app' | 'role' | 'duration' | 'justification' | 'subject', string>>) {
  for (const [field, value] of Object.entries(values)) {
    const res = await harness.client.fillForm(viewId, field as keyof typeof values, value);
    expect(res.status).toBe(200);
  }
}

/** The filing job of Eli's submitted form for Notion member, as the form's submission hands it over. */
function eliNotionJob(harness: Harness, receiptKey: string) {
  const eli = 'eli.engineer@example.com';
  const slackUserId = harness.sandbox.slack.users().find((u) => u.email === eli)!.id;
  return { receiptKey, slackUserId, requester: eli, subject: eli, app: 'notion', role: 'member', duration: 'permanent', justification: 'Team wiki' };
}

/** Lets the filing jobs handed over so far finish. */
const filed = (harness: Harness) => harness.runtime.jobs.idle();

const dmsTo = (harness: Harness, email: string) => {
  const user = harness.sandbox.slack.users().find((u) => u.email === email)!;
  return harness.sandbox.slack.messagesTo(user.id).map((m) => m.text);
};

describe('/access opens a request form built from the catalog', () => {
  it('lists the apps; choosing an app lists its roles, choosing a role its durations', async () => {
    h = await startHarness();

    const viewId = await openForm(h, 'eli.engineer@example.com');
    const apps = formShown(h, viewId)[0]!;
    await fill(h, viewId, { app: 'salesforce' });
    const withRoles = formShown(h, viewId);
    await fill(h, viewId, { role: 'admin' });
    const withDurations = formShown(h, viewId);

    expect(apps.label).toBe('App');
    expect(apps.options).toEqual(expect.arrayContaining(Object.keys(h.catalog.apps)));
    expect(withRoles.map((i) => i.label)).toEqual(['App', 'Role', 'Why is it needed?', 'On behalf of']);
    expect(withRoles[1]!.options).toEqual(Object.keys(h.catalog.apps.salesforce!.roles));
    expect(withDurations.map((i) => i.label)).toEqual(['App', 'Role', 'For how long', 'Why is it needed?', 'On behalf of']);
    expect(withDurations[2]!.options).toEqual(h.catalog.apps.salesforce!.roles.admin!.durations);
    // Nothing is filed by opening or choosing.
    expect(h.sandbox.jira.issue('ACC-1')).toBeUndefined();
  });

  it('/access <app> <role> opens the form with both chosen', async () => {
    h = await startHarness();

    const viewId = await openForm(h, 'eli.engineer@example.com', 'Notion member');

    const view = h.sandbox.slack.views().find((v) => v.id === viewId)!;
    expect(view.values[REQUEST_FORM.app]?.[REQUEST_FORM.app]?.selected_option).toMatchObject({ value: 'notion' });
    expect(view.values[`${REQUEST_FORM.role}/notion`]?.[REQUEST_FORM.role]?.selected_option).toMatchObject({ value: 'member' });
    expect(formShown(h, viewId).map((i) => i.label)).toContain('For how long');
  });

  it('a new app empties the role chosen for the old one, and keeps the justification typed', async () => {
    h = await startHarness();
    const viewId = await openForm(h, 'eli.engineer@example.com', 'notion member');
    await fill(h, viewId, { justification: 'Team wiki' });

    await fill(h, viewId, { app: 'salesforce' });

    const view = h.sandbox.slack.views().find((v) => v.id === viewId)!;
    expect(view.values[`${REQUEST_FORM.role}/salesforce`]?.[REQUEST_FORM.role]?.selected_option).toBeNull();
    expect(view.values[REQUEST_FORM.justification]?.[REQUEST_FORM.justification]?.value).toBe('Team wiki');
  });

  it('a forged command gets 401 and opens nothing', async () => {
    h = await startHarness();
    const res = await h.client.post('/webhooks/slack/commands', 'command=%2Faccess&trigger_id=1.2.3', {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': '1',
      'x-slack-signature': 'v0=00',
    });
    expect(res.status).toBe(401);
    expect(h.sandbox.slack.views()).toEqual([]);
  });
});

describe('submitting the form', () => {
  it('closes the form at once, files the Jira issue in the shapes Jira requires, then grants through the same workflow', async () => {
    h = await startHarness();
    const viewId = await openForm(h, 'maria.manager@example.com');
    await fill(h, viewId, {
      app: 'notion',
      role: 'member',
      duration: 'permanent',
      justification: 'Company wiki for onboarding',
      subject: 'nina.newhire@example.com',
    });

    const res = await h.client.submitForm(viewId, { timestamp: now(h) });
    await filed(h);

    expect(res).toEqual({ status: 200, body: {} });
    const issue = h.sandbox.jira.issue('ACC-1')!;
    expect(issue.fields).toMatchObject({
      customfield_10070: 'nina.newhire@example.com',
      customfield_10071: { value: 'Notion' },
      customfield_10072: { value: 'member' },
      customfield_10073: { value: 'permanent' },
    });
    expect(dmsTo(h, 'maria.manager@example.com')).toContain('Filed ACC-1: Notion member for nina.newhire@example.com (permanent). You will hear back here.');
    await finished(h, 'grant-ACC-1');
    expect(h.sandbox.okta.members('00gnotionmember')).toContain('nina.newhire@example.com');
    const grant = await h.runtime.deps.store.getGrant('grant-ACC-1');
    expect(grant).toMatchObject({ requester: 'maria.manager@example.com', subject: 'nina.newhire@example.com', source: 'slack' });
  });

  it("without Modify Reporter, the issue is the bot's and names the requester; the automation rule's webhook for such an issue records nothing", async () => {
    h = await startHarness();
    h.sandbox.jira.modifyReporter = false;
    const viewId = await openForm(h, 'eli.engineer@example.com', 'notion member');
    await fill(h, viewId, { duration: 'permanent', justification: 'Team wiki' });
    // The rule fires on "issue created" for Grantline's issues too, maybe before the filing job has recorded the grant.
    const early = h.sandbox.jira.createIssue({
      summary: 'Access: Notion member',
      reporterEmail: h.sandbox.env.JIRA_EMAIL!,
      fields: { customfield_10071: { value: 'Notion' } },
    });
    const webhook = await h.client.sendIssueCreated(early.key, { reporter: h.sandbox.env.JIRA_EMAIL! });

    await h.client.submitForm(viewId, { timestamp: now(h) });
    await filed(h);

    expect(webhook).toMatchObject({ status: 202, body: { status: 'filed_by_grantline' } });
    expect(await h.runtime.deps.store.getGrant(`grant-${early.key}`)).toBeUndefined();
    expect(h.sandbox.jira.issue('ACC-2')?.reporterAccountId).toBe(h.sandbox.jira.botAccountId);
    await finished(h, 'grant-ACC-2');
    expect(await h.runtime.deps.store.getGrant('grant-ACC-2')).toMatchObject({ requester: 'eli.engineer@example.com', source: 'slack' });
  });

  it('is answered before Jira is: a slow Jira does not hold the answer to Slack', async () => {
    h = await startHarness();
    const viewId = await openForm(h, 'eli.engineer@example.com', 'notion member');
    await fill(h, viewId, { duration: 'permanent', justification: 'Team wiki' });
    h.sandbox.jira.delayMs = 300;

    const res = await h.client.submitForm(viewId, { timestamp: now(h) });
    const issueWhenAnswered = h.sandbox.jira.issue('ACC-1');
    h.sandbox.jira.delayMs = 0;
    await filed(h);

    expect(res.status).toBe(200);
    expect(issueWhenAnswered).toBeUndefined();
    expect(h.sandbox.jira.issue('ACC-1')).toBeDefined();
  });

  it('a duration over the maximum is shown under the duration field; nothing is filed, and the form can be corrected and sent', async () => {
    h = await startHarness();
    const viewId = await openForm(h, 'eli.engineer@example.com', 'salesforce admin');
    await fill(h, viewId, { justification: 'Quarter close' });
    const view = h.sandbox.slack.views().find((v) => v.id === viewId)!;
    const durationBlock = `${REQUEST_FORM.duration}/salesforce/admin`;
    // The form offers only allowed durations: a longer one comes from a stale or hand-made submission.
    const values = { ...view.values, [durationBlock]: { [REQUEST_FORM.duration]: { type: 'static_select', selected_option: { value: 'P7D' } } } };
    const payload = {
      type: 'view_submission',
      team: { id: 'TSANDBOX' },
      user: { id: view.user },
      view: { id: viewId, callback_id: view.callbackId, hash: view.hash, state: { values } },
    };

    const res = await h.client.postSlack('/webhooks/slack/interactions', `payload=${encodeURIComponent(JSON.stringify(payload))}`, now(h));
    await filed(h);

    expect(res.body).toEqual({
      response_action: 'errors',
      errors: { [durationBlock]: 'duration P7D (7 days) is longer than the maximum PT24H for Salesforce admin' },
    });
    expect(h.sandbox.jira.issue('ACC-1')).toBeUndefined();

    await fill(h, viewId, { duration: 'PT1H' });
    const corrected = await h.client.submitForm(viewId, { timestamp: now(h) });
    await filed(h);
    expect(corrected).toEqual({ status: 200, body: {} });
    expect(h.sandbox.jira.issue('ACC-1')).toMatchObject({ fields: { customfield_10073: { value: 'PT1H' } } });
  });

  it('a missing justification is shown under its field', async () => {
    h = await startHarness();
    const viewId = await openForm(h, 'eli.engineer@example.com', 'notion member');
    await fill(h, viewId, { duration: 'permanent' });

    const res = await h.client.submitForm(viewId, { timestamp: now(h) });

    expect(res.body).toEqual({ response_action: 'errors', errors: { [REQUEST_FORM.justification]: 'justification is missing: say why the access is needed' } });
  });

  it('the same submission sent twice files one Jira issue and one grant', async () => {
    h = await startHarness();
    const viewId = await openForm(h, 'eli.engineer@example.com', 'notion member');
    await fill(h, viewId, { duration: 'permanent', justification: 'Team wiki' });
    const timestamp = now(h);

    const answers = await Promise.all([h.client.submitForm(viewId, { timestamp }), h.client.submitForm(viewId, { timestamp })]);
    await filed(h);

    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(h.sandbox.jira.issue('ACC-1')).toBeDefined();
    expect(h.sandbox.jira.issue('ACC-2')).toBeUndefined();
    await finished(h, 'grant-ACC-1');
    expect(await h.runtime.deps.store.grantsOfApp('notion')).toHaveLength(1);
  });

  it('Jira failing for a moment (500) is retried and the request filed once', async () => {
    h = await startHarness();
    const viewId = await openForm(h, 'eli.engineer@example.com', 'notion member');
    await fill(h, viewId, { duration: 'permanent', justification: 'Team wiki' });
    h.sandbox.jira.fake.injectFault({
      method: 'POST',
      path: '/rest/api/3/issue',
      status: 500,
      body: { errorMessages: ['Internal server error'], errors: {} },
      times: 2,
    });

    await h.client.submitForm(viewId, { timestamp: now(h) });
    await filed(h);

    expect(h.sandbox.jira.issue('ACC-1')).toBeDefined();
    expect(h.sandbox.jira.issue('ACC-2')).toBeUndefined();
    expect(dmsTo(h, 'eli.engineer@example.com')).toContain('Filed ACC-1: Notion member for you (permanent). You will hear back here.');
  });

  it('Jira files the issue but its answer is lost (502): the retry finds the issue by its label instead of filing a second', async () => {
    h = await startHarness();
    const viewId = await openForm(h, 'eli.engineer@example.com', 'notion member');
    await fill(h, viewId, { duration: 'permanent', justification: 'Team wiki' });
    h.sandbox.jira.fake.injectFault({ method: 'POST', path: '/rest/api/3/issue', action: 'reply_lost', status: 502, times: 1 });

    await h.client.submitForm(viewId, { timestamp: now(h) });
    await filed(h);

    expect(h.sandbox.jira.issue('ACC-1')?.fields.labels).toEqual([expect.stringMatching(/^grantline-[0-9a-f]{24}$/)]);
    expect(h.sandbox.jira.issue('ACC-2')).toBeUndefined();
    await finished(h, 'grant-ACC-1');
    expect(dmsTo(h, 'eli.engineer@example.com')).toContain('Filed ACC-1: Notion member for you (permanent). You will hear back here.');
  });

  it('a request Jira refuses is not filed, and the person is told why in Slack', async () => {
    h = await startHarness();
    const viewId = await openForm(h, 'eli.engineer@example.com', 'notion member');
    await fill(h, viewId, { duration: 'permanent', justification: 'Team wiki' });
    h.sandbox.jira.fake.injectFault({
      method: 'POST',
      path: '/rest/api/3/issue',
      status: 403,
      body: { errorMessages: ['You do not have permission to create issues in this project.'], errors: {} },
    });

    await h.client.submitForm(viewId, { timestamp: now(h) });
    await filed(h);

    expect(h.sandbox.jira.issue('ACC-1')).toBeUndefined();
    await eventually(() => expect(dmsTo(h!, 'eli.engineer@example.com').some((t) => t.startsWith('Nothing was filed: ') && t.includes('(403)'))).toBe(true));
    expect(await h.runtime.deps.store.grantsOfApp('notion')).toEqual([]);
  });

  it('a submission that cannot be handed to the filing job is refused in the form, and the same form can be sent again', async () => {
    h = await startHarness();
    const viewId = await openForm(h, 'eli.engineer@example.com', 'notion member');
    await fill(h, viewId, { duration: 'permanent', justification: 'Team wiki' });
    const jobs = h.runtime.deps.jobs;
    h.runtime.deps.jobs = {
      fileRequest: async () => {
        throw new Error('Lambda throttled the invoke');
      },
      release: (job) => jobs.release(job),
      offboard: (job) => jobs.offboard(job),
      campaignRevoke: (job) => jobs.campaignRevoke(job),
    };

    const refused = await h.client.submitForm(viewId, { timestamp: now(h) });
    h.runtime.deps.jobs = jobs;
    const again = await h.client.submitForm(viewId, { timestamp: now(h) });
    await filed(h);

    expect(refused.body).toEqual({
      response_action: 'errors',
      errors: { [REQUEST_FORM.justification]: 'Grantline could not take the request just now; nothing was filed. Submit again in a minute.' },
    });
    expect(again).toEqual({ status: 200, body: {} });
    expect(h.sandbox.jira.issue('ACC-1')).toBeDefined();
    expect(h.sandbox.jira.issue('ACC-2')).toBeUndefined();
  });

  it('a submission whose filing job was lost with its process is filed by the next run (resumeJobs), once', async () => {
    h = await startHarness();
    const job = eliNotionJob(h, 'slack-view:V-lost');
    // The receipt was written and the job handed over, then the process died before running it.
    await h.runtime.deps.store.commands.claim(job.receiptKey, new Date().toISOString(), job);

    const refiled = await h.runtime.resumeJobs();
    await filed(h);
    const again = await h.runtime.resumeJobs();

    expect(refiled).toEqual(['slack-view:V-lost']);
    expect(again).toEqual([]);
    expect(h.sandbox.jira.issue('ACC-1')).toBeDefined();
    expect(h.sandbox.jira.issue('ACC-2')).toBeUndefined();
    await finished(h, 'grant-ACC-1');
  });

  it('a filing job run again (a crash after the issue was filed) files no second issue and finishes the request', async () => {
    h = await startHarness();
    const job = eliNotionJob(h, 'slack-view:V-crashed');
    // The first run got as far as the issue: the receipt records it, the grant was never written.
    await h.runtime.deps.store.commands.claim(job.receiptKey, new Date().toISOString());
    const { key } = await h.runtime.deps.ticketing.createIssue({
      summary: 'Access: Notion member for eli.engineer@example.com',
      reporterEmail: job.requester,
      fields: {
        customfield_10070: job.subject,
        customfield_10071: 'Notion',
        customfield_10072: 'member',
        customfield_10073: 'permanent',
        description: job.justification,
      },
    });
    await h.runtime.deps.store.commands.recordIssue(job.receiptKey, key);

    await h.runtime.deps.jobs.fileRequest(job);
    await filed(h);

    expect(key).toBe('ACC-1');
    expect(h.sandbox.jira.issue('ACC-2')).toBeUndefined();
    await finished(h, 'grant-ACC-1');
    expect(h.sandbox.okta.members('00gnotionmember')).toContain('eli.engineer@example.com');
  });
});
