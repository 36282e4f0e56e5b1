/**
 * The sandbox's control API: lets a person at a terminal play the parts Jira and Slack play
 * (filing a request, clicking Approve/Deny), look into the simulated services, and play outages
 * (`POST /sandbox/faults`, `GET /sandbox/faults` for what was served, `DELETE /sandbox/faults`).
 */
import { z } from 'zod';
import type { LocalRuntime } from '../runtime.js';
import { clearFaults, FAULT_SERVICES, faultSpecSchema, injectFault, servedFaults } from './faults.js';
import { HttpFake } from './http-fake.js';
import { SandboxClient, type Sandbox } from './index.js';

const requestForm = z.object({
  reporter: z.email(),
  subject: z.email().optional(),
  app: z.string().optional(),
  role: z.string().optional(),
  duration: z.string().optional(),
  justification: z.string().optional(),
});

/** A person using the /access form in Slack: what they choose and type in it. */
const slackForm = z.object({
  requester: z.email(),
  for: z.email().optional(),
  app: z.string(),
  role: z.string(),
  duration: z.string(),
  justification: z.string(),
});

const clickForm = z.object({
  approver: z.email(),
  grantId: z.string(),
  step: z.number().int().min(0).default(0),
  decision: z.enum(['approve', 'deny']),
});

export async function startSandboxControl(sandbox: Sandbox, runtime: LocalRuntime, port: number): Promise<{ url: string; close(): Promise<void> }> {
  const client = new SandboxClient(sandbox, runtime.url, { ...sandbox.env });
  const control = new HttpFake('sandbox-control');
  const bad = (error: z.ZodError) => ({ status: 400, body: { error: error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') } });

  control
    .route('POST', '/sandbox/requests', async (req) => {
      const form = requestForm.safeParse(req.body);
      if (!form.success) return bad(form.error);
      const res = await client.fileRequest(form.data);
      return { status: res.status, body: { issueKey: res.issueKey, ...res.body } };
    })
    .route('POST', '/sandbox/slack-form', async (req) => {
      // Types /access, chooses and types in the form it opens, submits it, and returns what Slack showed.
      const form = slackForm.safeParse(req.body);
      if (!form.success) return bad(form.error);
      const { requester, app, role, duration, justification } = form.data;
      const opened = await client.slashAccess(requester);
      if (!opened.viewId) return { status: 502, body: { error: 'the form did not open', answer: opened.body } };
      try {
        await client.fillForm(opened.viewId, 'app', app);
        await client.fillForm(opened.viewId, 'role', role);
        await client.fillForm(opened.viewId, 'duration', duration);
        await client.fillForm(opened.viewId, 'justification', justification);
        if (form.data.for) await client.fillForm(opened.viewId, 'subject', form.data.for);
      } catch (err) {
        // The simulated Slack offers only what the form lists: say what it does not.
        return { status: 400, body: { error: err instanceof Error ? err.message : String(err) } };
      }
      const submitted = await client.submitForm(opened.viewId);
      await runtime.jobs.idle();
      const user = sandbox.slack.users().find((u) => u.email === requester.toLowerCase());
      const told = user ? sandbox.slack.messagesTo(user.id).map((m) => m.text) : [];
      return { status: 200, body: { form: submitted.body.response_action === 'errors' ? submitted.body : 'submitted', slack: told.at(-1) ?? null } };
    })
    .route('POST', '/sandbox/clicks', async (req) => {
      const form = clickForm.safeParse(req.body);
      if (!form.success) return bad(form.error);
      const res = await client.click(form.data.approver, form.data.grantId, form.data.step, form.data.decision);
      return { status: res.status, body: res.body };
    })
    .route('GET', '/sandbox/slack', () => ({
      status: 200,
      body: sandbox.slack
        .messages()
        .map((m) => ({ to: sandbox.slack.users().find((u) => u.id === m.user)?.email, text: m.text, ts: m.ts, updated: m.updatedAt ?? null })),
    }))
    .route('GET', '/sandbox/groups/:provider/:groupId', (req) => ({
      status: 200,
      body: { provider: req.params.provider, group: req.params.groupId, members: sandbox.members(req.params.provider ?? '', req.params.groupId ?? '') },
    }))
    .route('POST', '/sandbox/faults', (req) => {
      const spec = faultSpecSchema.safeParse(req.body);
      if (!spec.success) return bad(spec.error);
      try {
        injectFault(sandbox, spec.data);
      } catch (err) {
        return { status: 400, body: { error: err instanceof Error ? err.message : String(err) } };
      }
      return { status: 201, body: { injected: spec.data } };
    })
    .route('GET', '/sandbox/faults', () => ({ status: 200, body: { served: servedFaults(sandbox) } }))
    .route('DELETE', '/sandbox/faults', (req) => {
      const service = FAULT_SERVICES.find((s) => s === req.query.get('service'));
      clearFaults(sandbox, service);
      return { status: 200, body: { cleared: service ?? 'all' } };
    })
    .route('GET', '/sandbox/jira/:key', (req) => {
      const issue = sandbox.jira.issue(req.params.key ?? '');
      if (!issue) return { status: 404, body: { error: 'no such issue' } };
      return { status: 200, body: { key: issue.key, status: issue.status, comments: sandbox.jira.commentTexts(issue.key) } };
    });
  const url = await control.listen(port);
  return { url, close: () => control.close() };
}
