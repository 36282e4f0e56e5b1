/**
 * `npm start`: the local runtime. With no Jira/Slack/Okta settings it starts a clearly labelled
 * sandbox of simulated services (and a small control API to play requester and approver);
 * with settings it talks to the real services and keeps its data in .grantline/.
 */
import { randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { loadCatalog } from '../../shared/catalog/load.js';
import { parseConfig } from '../../shared/config.js';
import { errorMessage } from '../../shared/errors.js';
import { startLocalRuntime } from './runtime.js';
import { startSandboxControl } from './sandbox/control.js';
import { SANDBOX_PEOPLE, startSandbox } from './sandbox/index.js';

const CONNECTOR_SETTINGS = ['JIRA_BASE_URL', 'SLACK_BOT_TOKEN', 'OKTA_ORG_URL'] as const;
const REQUIRED_WITH_REAL_SERVICES = [
  'JIRA_BASE_URL',
  'JIRA_EMAIL',
  'JIRA_API_TOKEN',
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'GRANTLINE_JIRA_WEBHOOK_SECRET',
] as const;

async function main(): Promise<void> {
  const env = { ...process.env };
  const base = parseConfig(env);
  const catalog = await loadCatalog(base.GRANTLINE_CATALOG);
  const logger = new Logger({ serviceName: 'grantline', logLevel: base.LOG_LEVEL === 'SILENT' ? 'SILENT' : base.LOG_LEVEL });
  const sandboxMode = env.GRANTLINE_SANDBOX === '1' || CONNECTOR_SETTINGS.every((k) => !env[k]);

  if (!sandboxMode) {
    const missing = REQUIRED_WITH_REAL_SERVICES.filter((k) => !env[k]);
    if (missing.length > 0)
      throw new Error(`connected mode needs ${missing.join(', ')} (or unset JIRA_BASE_URL, SLACK_BOT_TOKEN and OKTA_ORG_URL for the sandbox)`);
    // Locally the audit API has no IAM in front of it: it is never left open.
    if (!env.GRANTLINE_AUDIT_TOKEN) {
      env.GRANTLINE_AUDIT_TOKEN = randomBytes(16).toString('hex');
      console.log(`GRANTLINE_AUDIT_TOKEN was not set; this run's audit token is ${env.GRANTLINE_AUDIT_TOKEN}`);
    }
    const runtime = await startLocalRuntime({ env, logger, catalog, dataDir: env.GRANTLINE_DATA_DIR ?? '.grantline/dynamodb' });
    const redriven = await runtime.redrive();
    console.log(`Grantline listening on ${runtime.url} (connected to ${runtime.config.JIRA_BASE_URL}, ${runtime.config.OKTA_ORG_URL ?? 'no Okta'})`);
    if (redriven.length > 0) console.log(`Re-drove ${redriven.length} grant(s) still in progress: ${redriven.join(', ')}`);
    const resumed = await runtime.resumeJobs();
    if (resumed.length > 0) console.log(`Running again ${resumed.length} job(s) from Slack a stopped run had not finished: ${resumed.join(', ')}`);
    onExit(() => runtime.close());
    return;
  }

  const sandbox = await startSandbox(catalog);
  const runtimeEnv = { ...env, ...sandbox.env };
  const runtime = await startLocalRuntime({ env: runtimeEnv, logger, catalog });
  const control = await startSandboxControl(sandbox, runtime, Number(env.GRANTLINE_SANDBOX_PORT ?? runtime.config.PORT + 1));
  onExit(async () => {
    await control.close();
    await runtime.close();
    await sandbox.close();
  });

  const line = '='.repeat(78);
  console.log(`${line}
 GRANTLINE SANDBOX: simulated Jira, Slack, Okta, Entra ID and Google on loopback. Nothing here is real.
 (Set JIRA_BASE_URL, SLACK_BOT_TOKEN and OKTA_ORG_URL to talk to real services.)
${line}
 Grantline API      ${runtime.url}   (webhooks, GET /grants, GET /healthz)
 Sandbox control    ${control.url}   (plays Jira's automation rule and Slack clicks)
 Simulated Jira     ${sandbox.jira.url}
 Simulated Slack    ${sandbox.slack.url}
 Simulated Okta     ${sandbox.okta.url}
 Simulated Graph    ${sandbox.graph.url}   (Entra ID, self-signed https)
 Simulated Google   ${sandbox.google.url}
 Audit token        ${sandbox.env.GRANTLINE_AUDIT_TOKEN}
${line}
 1. File a request (a manager for a new hire):
    curl -s -X POST ${control.url}/sandbox/requests -H 'content-type: application/json' \\
      -d '{"reporter":"${SANDBOX_PEOPLE.manager}","subject":"${SANDBOX_PEOPLE.newHire}","app":"Figma","role":"editor","duration":"PT24H","justification":"Joins the design team"}'
 2. See the Slack approval message (the manager is the requester, so the Figma owner is asked):
    curl -s ${control.url}/sandbox/slack
 3. Approve as the owner (use the grantId from step 1):
    curl -s -X POST ${control.url}/sandbox/clicks -H 'content-type: application/json' \\
      -d '{"approver":"dana.design@example.com","grantId":"grant-ACC-1","step":0,"decision":"approve"}'
 4. Check the Okta group (or /sandbox/groups/entra/<id>, /sandbox/groups/google/<email>), the Jira evidence and the audit answer:
    curl -s ${control.url}/sandbox/groups/okta/00gfigmaeditor
    curl -s ${control.url}/sandbox/jira/ACC-1
    curl -s -H 'authorization: Bearer ${sandbox.env.GRANTLINE_AUDIT_TOKEN}' ${runtime.url}/grants/grant-ACC-1
    Prove the ledger was not changed (every hash chain and anchor, recomputed here):
    npx grantline audit verify --url ${runtime.url} --token ${sandbox.env.GRANTLINE_AUDIT_TOKEN}
 5. Or ask in Slack: /access opens a form from the catalog; this plays it (the answer is the Slack DM):
    curl -s -X POST ${control.url}/sandbox/slack-form -H 'content-type: application/json' \
      -d '{"requester":"${SANDBOX_PEOPLE.engineer}","app":"github","role":"maintainer","duration":"PT24H","justification":"On-call week"}'
 Or run the whole onboarding story at once: npm run demo
${line}`);
}

function onExit(close: () => Promise<void>): void {
  const stop = () => {
    void close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`grantline: ${errorMessage(err)}`);
  process.exit(1);
});
