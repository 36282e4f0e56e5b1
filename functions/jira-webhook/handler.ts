// Jira issue webhook (automation rule or Jira webhook) → grant request
import { jiraTicketing } from '../../shared/aws/jira.js';
import { httpHandler } from '../../shared/aws/lambda.js';
import { receiveJiraWebhook } from '../../shared/intake.js';

export const handler = httpHandler(receiveJiraWebhook, { ticketing: jiraTicketing });
