// POST /reviews, GET /campaigns, GET /campaigns/{id}, POST /campaigns/{id}/decisions and /close, POST /audit/attachments (IAM);
// a review Revoke decided in Slack (async invoke by slack-interactions); the campaign sweep every 15 minutes
import { jiraTicketing } from '../../shared/aws/jira.js';
import { isScheduledEvent, routeOrEventHandler } from '../../shared/aws/lambda.js';
import { slackChat } from '../../shared/aws/slack.js';
import { campaignRevokeJobSchema, campaignRoute, finishItemRevoke, sweepCampaigns } from '../../shared/campaigns.js';
import { identityProviders } from '../../shared/connectors/identity.js';
import { PermanentError } from '../../shared/errors.js';

export const handler = routeOrEventHandler(
  campaignRoute,
  async (deps, event) => {
    const job = campaignRevokeJobSchema.safeParse(event);
    if (job.success) return finishItemRevoke(deps, job.data.campaignRevoke.campaignId, job.data.campaignRevoke.itemId);
    if (isScheduledEvent(event)) return sweepCampaigns(deps);
    throw new PermanentError("not a review Revoke job nor the campaign sweep's scheduled event");
  },
  { providers: identityProviders, ticketing: jiraTicketing, chat: slackChat },
);
