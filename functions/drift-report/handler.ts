// Daily (EventBridge rule) and POST /drift (IAM): each app's groups against the ledger; findings on one Jira issue per app and day
import { jiraTicketing } from '../../shared/aws/jira.js';
import { driftHandler } from '../../shared/aws/lambda.js';
import { identityProviders } from '../../shared/connectors/identity.js';

export const handler = driftHandler({ providers: identityProviders, ticketing: jiraTicketing });
