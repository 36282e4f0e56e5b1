// State machine: mark the grant failed and write why
import { jiraTicketing } from '../../shared/aws/jira.js';
import { taskHandler } from '../../shared/aws/lambda.js';
import { slackChat } from '../../shared/aws/slack.js';
import { identityProviders } from '../../shared/connectors/identity.js';

export const handler = taskHandler('RecordFailure', { providers: identityProviders, ticketing: jiraTicketing, chat: slackChat });
