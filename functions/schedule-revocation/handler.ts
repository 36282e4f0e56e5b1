// State machine: one-time EventBridge Scheduler schedule at expiry (an expiry already past is revoked at once, hence the providers)
import { jiraTicketing } from '../../shared/aws/jira.js';
import { taskHandler } from '../../shared/aws/lambda.js';
import { identityProviders } from '../../shared/connectors/identity.js';

export const handler = taskHandler('ScheduleRevocation', { providers: identityProviders, ticketing: jiraTicketing });
