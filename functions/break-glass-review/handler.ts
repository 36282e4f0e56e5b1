// State machine: a break-glass grant's review after the fact, opened (the revocation scheduled, the reviewers told) and at its deadline (flagged, or revoked)
import { jiraTicketing } from '../../shared/aws/jira.js';
import { taskHandler } from '../../shared/aws/lambda.js';
import { slackChat } from '../../shared/aws/slack.js';
import { identityProviders } from '../../shared/connectors/identity.js';

export const handler = taskHandler('BreakGlassReview', { providers: identityProviders, ticketing: jiraTicketing, chat: slackChat });
