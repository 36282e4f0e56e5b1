// State machine: plan approvals, then read each step's decision
import { jiraTicketing } from '../../shared/aws/jira.js';
import { taskHandler } from '../../shared/aws/lambda.js';
import { slackChat } from '../../shared/aws/slack.js';
import { identityProviders } from '../../shared/connectors/identity.js';

export const handler = taskHandler('Advance', { providers: identityProviders, ticketing: jiraTicketing, chat: slackChat });
