// EventBridge Scheduler target (and early release / access review): remove the membership
import { jiraTicketing } from '../../shared/aws/jira.js';
import { taskHandler } from '../../shared/aws/lambda.js';
import { identityProviders } from '../../shared/connectors/identity.js';

export const handler = taskHandler('Revoke', { providers: identityProviders, ticketing: jiraTicketing });
