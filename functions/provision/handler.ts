// State machine: add the subject to the identity-provider group (or the owner's manual task)
import { jiraTicketing } from '../../shared/aws/jira.js';
import { taskHandler } from '../../shared/aws/lambda.js';
import { slackChat } from '../../shared/aws/slack.js';
import { identityProviders } from '../../shared/connectors/identity.js';

export const handler = taskHandler('Provision', { providers: identityProviders, ticketing: jiraTicketing, chat: slackChat });
