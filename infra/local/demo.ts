/**
 * `npm run demo`: a new hire's onboarding, end to end through the sandbox: one app auto-approved,
 * one approved in Slack, one filed through the Slack /access form, one denied, one time-bound grant that expires (the clock is moved forward),
 * then the evidence trail an auditor would read. A second act shows the policy in depth: a quorum,
 * a reminder and an escalation, an early release ("I'm done"), break-glass, an extension and an
 * onboarding bundle approved with one click; then an access review campaign decided in Slack and an
 * offboarding.
 *
 * The demo runs catalog.yaml with two changes, so that the second act fits in seconds: the
 * break-glass role needs 2 of the security on-call group, and Looker editor's approval timers
 * count in seconds (the approval waits are real time in the state machine).
 */
import { loadCatalog } from '../../shared/catalog/load.js';
import { ShiftedClock } from '../../shared/clock.js';
import { silentLogger } from '../../shared/logger.js';
import type { GrantRecord } from '../../shared/audit.js';
import type { Catalog } from '../../shared/catalog/schema.js';
import type { Campaign, CampaignItem } from '../../shared/campaigns.js';
import { verifyChain } from '../../shared/chain.js';
import type { StoredChain } from '../../shared/ledger-audit.js';
import type { OffboardResult } from '../../shared/offboarding.js';
import {
  BUNDLE_APPROVE_ALL_ACTION_ID,
  CAMPAIGN_KEEP_RECOMMENDED_ACTION_ID,
  CAMPAIGN_REVOKE_ACTION_ID,
  RELEASE_ACTION_ID,
  REVIEW_ACTION_ID,
  REVOKE_REASON_FORM,
} from '../../shared/ports.js';
import { startLocalRuntime, type LocalRuntime } from './runtime.js';
import { SANDBOX_PEOPLE, SandboxClient, startSandbox } from './sandbox/index.js';

const { newHire: NINA, manager: MARIA, engineer: ELI } = SANDBOX_PEOPLE;

async function main(): Promise<void> {
  const catalog = demoCatalog(await loadCatalog(process.env.GRANTLINE_CATALOG ?? 'catalog.yaml'));
  const sandbox = await startSandbox(catalog);
  const clock = new ShiftedClock();
  // JIRA_FIELD_APPROVERS: approvals are also asked in Jira Service Management (docs/jira-setup.md §6).
  const env = { ...sandbox.env, PORT: '0', JIRA_FIELD_APPROVERS: sandbox.jira.approversFieldId };
  const runtime = await startLocalRuntime({ env, logger: silentLogger, clock, catalog, tickMs: false });
  const client = new SandboxClient(sandbox, runtime.url);
  const click = (who: string, grantId: string, step: number, decision: 'approve' | 'deny') =>
    client.click(who, grantId, step, decision, { timestamp: Math.floor(clock.now().getTime() / 1000) });
  const say = (text: string) => console.log(`\n▶ ${text}`);

  try {
    say(`Maria (manager) files Nina's onboarding requests in Jira; the automation rule calls Grantline.`);
    const notion = await file(client, runtime, { app: 'Notion', role: 'member', duration: 'permanent', justification: 'Company wiki' });
    console.log(`  ${notion.issueKey} Notion member: auto-approved by policy → ${await status(runtime, notion.grantId)}`);

    const figma = await file(client, runtime, { app: 'Figma', role: 'editor', duration: 'P30D', justification: 'Joins the design team' });
    const owner = sandbox.slack.users().find((u) => u.email === 'dana.design@example.com')!;
    console.log(`  ${figma.issueKey} Figma editor: Slack DM to the app owner (Maria is the requester): "${sandbox.slack.messagesTo(owner.id)[0]?.text}"`);
    const refused = await click(MARIA, figma.grantId, 0, 'approve');
    console.log(`  Maria tries to approve her own request → ${refused.body.outcome} (recorded as evidence)`);
    await click('dana.design@example.com', figma.grantId, 0, 'approve');
    await runtime.workflow.quiet(figma.grantId);
    console.log(
      `  Dana approves in Slack → ${await status(runtime, figma.grantId)}; Okta group 00gfigmaeditor: ${sandbox.okta.members('00gfigmaeditor').join(', ')}`,
    );

    say('Nina types /access in Slack: a form built from the catalog opens; she picks GitHub Enterprise, maintainer, 30 days.');
    const ts = () => ({ timestamp: Math.floor(clock.now().getTime() / 1000) });
    const { viewId } = await client.slashAccess(NINA, '', ts());
    if (!viewId) throw new Error('the /access form did not open');
    await client.fillForm(viewId, 'app', 'github');
    await client.fillForm(viewId, 'role', 'maintainer');
    await client.fillForm(viewId, 'duration', 'P30D');
    await client.fillForm(viewId, 'justification', 'Reviews for the platform team');
    await client.submitForm(viewId, ts());
    await runtime.jobs.idle();
    const ninaDms = sandbox.slack.messagesTo(sandbox.slack.users().find((u) => u.email === NINA)!.id).map((m) => m.text);
    const filedFromSlack = ninaDms.find((t) => t.startsWith('Filed '));
    const github = `grant-${filedFromSlack?.split(/[ :]/)[1]}`;
    console.log(`  filed from Slack: "${filedFromSlack}"`);
    await runtime.workflow.quiet(github);
    await click(MARIA, github, 0, 'approve');
    await runtime.workflow.quiet(github);
    console.log(`  Maria (her manager) approves in Slack → ${await status(runtime, github)}`);

    const salesforce = await file(client, runtime, { app: 'Salesforce', role: 'admin', duration: 'PT6H', justification: 'Wants to look around' });
    const intruder = await click(SANDBOX_PEOPLE.intruder, salesforce.grantId, 0, 'approve');
    console.log(`  ${salesforce.issueKey} Salesforce admin (manager, then owner): Mallory, not an approver, clicks Approve → ${intruder.body.outcome}`);
    // Maria requested, so the manager step goes to the app owner, who denies.
    await click('omar.owner@example.com', salesforce.grantId, 0, 'deny');
    await runtime.workflow.quiet(salesforce.grantId);
    console.log(`  Omar (app owner, deciding because the manager is the requester) denies → ${await status(runtime, salesforce.grantId)}`);

    const readOnly = await file(client, runtime, { app: 'Salesforce', role: 'read-only', duration: 'P90D', justification: 'Pipeline reports' });
    sandbox.jira.answerApproval(readOnly.issueKey, 'omar.owner@example.com', 'approve');
    await client.sendApprovalCompleted(readOnly.issueKey);
    await runtime.workflow.quiet(readOnly.grantId);
    const inJira = (await runtime.deps.store.evidence(readOnly.grantId)).find((e) => e.type === 'approved');
    console.log(
      `  ${readOnly.issueKey} Salesforce read-only: Omar approves in Jira Service Management instead of Slack → ${await status(runtime, readOnly.grantId)}; evidence: "${inJira?.summary}"`,
    );

    const breakGlass = await file(client, runtime, {
      app: 'Internal admin console',
      role: 'break-glass',
      duration: 'PT1H',
      justification: 'INC-4211: database failover',
    });
    await click('sam.sec@example.com', breakGlass.grantId, 0, 'approve');
    const oneOfTwo = await status(runtime, breakGlass.grantId);
    await click('sasha.sec@example.com', breakGlass.grantId, 0, 'approve');
    await runtime.workflow.quiet(breakGlass.grantId);
    console.log(
      `  ${breakGlass.issueKey} break-glass for 1 hour: Sam approves (still ${oneOfTwo.replace('_', ' ')}), then Sasha: quorum 2 of 2 of security on-call → ${await status(runtime, breakGlass.grantId)}; members: ${sandbox.okta.members('00gconsolebreakglass').join(', ')}`,
    );

    say('Time passes: 61 minutes later the one-time schedule fires the revocation.');
    clock.advance(61 * 60_000);
    await runtime.scheduler.tick();
    console.log(`  break-glass → ${await status(runtime, breakGlass.grantId)}; members now: [${sandbox.okta.members('00gconsolebreakglass').join(', ')}]`);

    say('Act 2. Nobody answers the Looker editor request: a reminder, then an escalation (the demo counts these timers in seconds).');
    const looker = await file(client, runtime, { app: 'Looker', role: 'editor', duration: 'PT6H', justification: 'Dashboards for the launch' });
    for (let i = 0; i < 600 && !(await escalated(runtime, looker.grantId)); i++) await new Promise((r) => setTimeout(r, 20));
    await runtime.workflow.quiet(looker.grantId);
    const lookerEvidence = await runtime.deps.store.evidence(looker.grantId);
    for (const type of ['approval_reminded', 'approval_escalated'] as const) {
      console.log(`  ${looker.issueKey}: ${lookerEvidence.find((e) => e.type === type)?.summary}`);
    }
    await click('sam.sec@example.com', looker.grantId, 0, 'approve');
    await runtime.workflow.quiet(looker.grantId);
    console.log(`  Sam, one of the escalation approvers, approves in Slack → ${await status(runtime, looker.grantId)}`);

    say(`Nina is done with Figma early: she clicks "I'm done" on her "Access granted" message.`);
    const ninaId = sandbox.slack.users().find((u) => u.email === NINA)!.id;
    const granted = sandbox.slack.messagesTo(ninaId).find((m) => m.text.includes(figma.issueKey) && JSON.stringify(m.blocks).includes(RELEASE_ACTION_ID));
    if (!granted) throw new Error(`no "I'm done" button on Nina's message for ${figma.issueKey}`);
    await client.press(NINA, granted, RELEASE_ACTION_ID, ts());
    await runtime.jobs.idle();
    const released = (await runtime.deps.store.evidence(figma.grantId)).find((e) => e.type === 'revoked');
    console.log(
      `  ${figma.issueKey} → ${await status(runtime, figma.grantId)}: "${released?.summary}"; Okta group 00gfigmaeditor: [${sandbox.okta.members('00gfigmaeditor').join(', ')}]`,
    );

    say('Eli takes the admin console under break-glass in an incident: no approver, a reference and a reason, reviewed after the fact.');
    const incident = await client.fileRequest({
      reporter: ELI,
      subject: ELI,
      app: 'Internal admin console',
      role: 'break-glass',
      duration: 'PT1H',
      justification: 'Primary database down, failing over',
      breakGlass: 'Break-glass',
      incident: 'INC-4242',
    });
    const incidentGrant = String(incident.body.grantId);
    await runtime.workflow.quiet(incidentGrant);
    const taken = (await runtime.deps.store.evidence(incidentGrant)).find((e) => e.type === 'break_glass_approved');
    console.log(`  ${incident.issueKey}: "${taken?.summary}" → ${await status(runtime, incidentGrant)}`);
    const samId = sandbox.slack.users().find((u) => u.email === 'sam.sec@example.com')!.id;
    const reviewNotice = sandbox.slack.messagesTo(samId).find((m) => JSON.stringify(m.blocks).includes(REVIEW_ACTION_ID));
    if (!reviewNotice) throw new Error('no break-glass review notice for Sam');
    console.log(`  Sam's DM: "${reviewNotice.text}"`);
    await client.press('sam.sec@example.com', reviewNotice, REVIEW_ACTION_ID, ts());
    console.log(`  Sam clicks Reviewed → the break-glass use is confirmed after the fact`);

    say('Nina needs Salesforce read-only longer: she asks to extend it by 30 days; Maria approves in Slack.');
    const extendRes = await client.post(`/grants/${readOnly.grantId}/extend`, JSON.stringify({ by: 'P30D', requester: NINA, reason: 'Quarter-end reports' }), {
      'content-type': 'application/json',
      authorization: `Bearer ${runtime.config.GRANTLINE_AUDIT_TOKEN}`,
    });
    const extensionId = String(extendRes.body.extensionId);
    await runtime.workflow.quiet(extensionId);
    await click(MARIA, extensionId, 0, 'approve');
    await runtime.workflow.quiet(extensionId);
    const extended = (await runtime.deps.store.evidence(readOnly.grantId)).find((e) => e.type === 'extended');
    console.log(`  ${readOnly.issueKey}: "${extended?.summary}"`);

    say('Eli moves to engineering: one Jira issue names the "Engineering new hire" bundle; each of its four roles follows its own policy.');
    const bundle = await client.fileRequest({ reporter: ELI, subject: ELI, bundle: 'Engineering new hire', justification: 'Moves to the platform team' });
    if (bundle.status >= 300) throw new Error(`bundle refused: ${JSON.stringify(bundle.body)}`);
    const items = bundle.body.grantIds as string[];
    for (const id of items) await runtime.workflow.quiet(id);
    const mariaId = sandbox.slack.users().find((u) => u.email === MARIA)!.id;
    const bundleMessage = sandbox.slack.messagesTo(mariaId).find((m) => JSON.stringify(m.blocks).includes(BUNDLE_APPROVE_ALL_ACTION_ID));
    if (!bundleMessage) throw new Error('no bundle approval message for Maria');
    console.log(`  ${bundle.issueKey}: ${items.length} grants; Maria gets one Slack message: "${bundleMessage.text}"`);
    await client.press(MARIA, bundleMessage, BUNDLE_APPROVE_ALL_ACTION_ID, ts());
    for (const id of items) await runtime.workflow.quiet(id);
    const settled = (await runtime.deps.store.evidence(`grant-${bundle.issueKey}`)).find((e) => e.type === 'bundle_settled');
    console.log(`  Maria presses "Approve all" → ${bundle.issueKey} gets one summary: "${settled?.summary}"`);

    say('Nora (Notion owner) runs an access review campaign: the group snapshotted, each member with their last login and a recommendation.');
    const PAT = 'pat.contractor@example.com';
    sandbox.okta.addUser({ email: PAT, firstName: 'Pat', lastName: 'Contractor' });
    sandbox.okta.addMembership('00gnotionmember', PAT);
    sandbox.okta.setLastLogin(PAT, new Date(clock.now().getTime() - 200 * 86_400_000).toISOString());
    sandbox.okta.setLastLogin(NINA, new Date(clock.now().getTime() - 86_400_000).toISOString());
    const audited = { 'content-type': 'application/json', authorization: `Bearer ${sandbox.env.GRANTLINE_AUDIT_TOKEN}` };
    const started = await client.post('/reviews', JSON.stringify({ apps: ['notion'], due: 'P7D', onUnreviewed: 'revoke' }), audited);
    const campaign = started.body.campaign as Campaign;
    for (const item of started.body.items as CampaignItem[]) {
      console.log(`  ${item.email}: last login ${item.lastLogin.slice(0, 10)} → recommend ${item.recommendation} (${item.reason})`);
    }
    const nora = catalog.apps.notion!.owner;
    const noraId = sandbox.slack.users().find((u) => u.email === nora)!.id;
    const reviewMessage = () => sandbox.slack.messagesTo(noraId).find((m) => !m.threadTs && JSON.stringify(m.blocks).includes(CAMPAIGN_REVOKE_ACTION_ID))!;
    console.log(`  ${campaign.id} on ${campaign.issueKey}; Nora's Slack DM: "${reviewMessage().text}" (Keep / Revoke per member)`);
    const pats = (started.body.items as CampaignItem[]).find((i) => i.email === PAT)!;
    const asked = await client.press(nora, reviewMessage(), CAMPAIGN_REVOKE_ACTION_ID, { ...ts(), value: `${campaign.id}:${pats.itemId}` });
    client.typeIn(asked.viewId!, REVOKE_REASON_FORM.reason, 'contract ended in June');
    await client.submitForm(asked.viewId!, ts());
    await runtime.jobs.idle();
    console.log(`  Nora presses Revoke on Pat and says why → revoked; Okta group now: [${sandbox.okta.members('00gnotionmember').join(', ')}]`);
    const kept = await client.press(nora, reviewMessage(), CAMPAIGN_KEEP_RECOMMENDED_ACTION_ID, ts());
    console.log(`  "Keep all recommended keeps" → ${kept.body.kept} kept`);
    await client.post(`/campaigns/${campaign.id}/close`, '{}', audited);
    const summary = sandbox.jira
      .commentTexts(campaign.issueKey!, 'internal')
      .find((c) => c.includes(' closed: '))
      ?.split('\n')[0];
    console.log(
      `  closed: "${summary}"; attached ${sandbox.jira
        .attachments(campaign.issueKey!)
        .map((a) => a.filename)
        .join(', ')}`,
    );

    say('Eli leaves the company: offboarding ends every grant he holds and his sessions at each identity provider.');
    const offboarded = (await client.post('/offboard', JSON.stringify({ email: ELI, by: 'hr.partner@example.com' }), audited))
      .body as unknown as OffboardResult;
    for (const g of offboarded.grants) console.log(`  ${g.issueKey} ${g.what}: ${g.outcome}`);
    console.log(`  sessions: ${offboarded.sessions.map((s) => `${s.provider} ${s.outcome}`).join(', ')}`);

    say(`The auditor asks GET /grants?user=${NINA}`);
    const audit = await client.audit(`/grants?user=${encodeURIComponent(NINA)}`);
    for (const record of audit.body.grants as GrantRecord[]) {
      const a = record.answers;
      console.log(`\n  ${record.grant.issueKey}  ${a.requested.what}  [${a.decision.outcome}]`);
      console.log(`    requested by ${a.requested.by} at ${a.requested.at}`);
      console.log(`    approved by  ${a.approvedBy.map((x) => `${x.by} via ${x.via} at ${x.at}`).join('; ') || '—'}`);
      console.log(`    group        ${a.group}`);
      console.log(`    started      ${a.started ?? '—'}   expires ${a.expires ?? 'never'}   revoked ${a.revoked.at ?? '—'}`);
      for (const e of record.evidence) console.log(`      · ${e.at}  ${e.summary}`);
      // The auditor recomputes the grant's hash chain on their side (what `grantline audit verify` does).
      const chain = ((await client.audit(`/audit/chains?grant=${encodeURIComponent(record.grant.id)}`)).body.chains as StoredChain[])[0]!;
      const breaks = verifyChain(chain.grantId, chain.events, chain.head, clock.now());
      console.log(
        `    chain        ${breaks.length === 0 ? `✓ verified (${chain.events.length} events, head ${chain.head?.hash.slice(0, 12)})` : `✗ ${breaks.map((b) => b.kind).join(', ')}`}`,
      );
    }
    say(
      `Jira issue ${breakGlass.issueKey} is now "${sandbox.jira.issue(breakGlass.issueKey)?.status}" with ${sandbox.jira.commentTexts(breakGlass.issueKey).length} evidence comments.`,
    );
  } finally {
    await runtime.close();
    await sandbox.close();
  }
}

async function file(client: SandboxClient, runtime: LocalRuntime, form: { app: string; role: string; duration: string; justification: string }) {
  const res = await client.fileRequest({ reporter: MARIA, subject: NINA, ...form });
  if (res.status >= 300) throw new Error(`request refused: ${JSON.stringify(res.body)}`);
  const grantId = String(res.body.grantId);
  await runtime.workflow.quiet(grantId);
  return { grantId, issueKey: res.issueKey };
}

/** catalog.yaml with the demo's two changes (see the top of this file). */
function demoCatalog(catalog: Catalog): Catalog {
  const breakGlass = catalog.apps['admin-console']?.roles['break-glass'];
  if (breakGlass) breakGlass.approval = [{ group: 'security-oncall', quorum: 2 }];
  const lookerEditor = catalog.apps.looker?.roles.editor;
  if (lookerEditor) Object.assign(lookerEditor, { remindAfter: 'PT1S', escalateAfter: 'PT2S', escalateTo: { group: 'security-oncall' } });
  return catalog;
}

async function escalated(runtime: LocalRuntime, grantId: string): Promise<boolean> {
  return (await runtime.deps.store.evidence(grantId)).some((e) => e.type === 'approval_escalated');
}

async function status(runtime: LocalRuntime, grantId: string): Promise<string> {
  return (await runtime.deps.store.getGrant(grantId))?.status ?? 'unknown';
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
