/**
 * The CDK app (cdk.json: `npx tsx infra/app.ts`). Deploy with `npx cdk deploy`; settings come from
 * context (`-c JIRA_BASE_URL=...`), see docs/deploy.md. The stack is environment-agnostic: it
 * synthesizes offline and deploys to the account and region of the credentials in use.
 */
import { buildApp } from './cdk/build-app.js';

const { app } = await buildApp();
app.synth();
