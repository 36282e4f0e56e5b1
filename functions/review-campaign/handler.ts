// POST /reviews, GET /campaigns/{id}, POST /campaigns/{id}/decisions and /close (IAM); a review Revoke decided in Slack (async
// invoke by slack-interactions); the campaign sweep every 15 minutes (reminders, the due date, anything cut short)
import { jiraTicketing } from '../../shared/aws/jira.js';
import { campaignHandler } from '../../shared/aws/lambda.js';
import { slackChat } from '../../shared/aws/slack.js';
import { identityProviders } from '../../shared/connectors/identity.js';

export const handler = campaignHandler({ providers: identityProviders, ticketing: jiraTicketing, chat: slackChat });
