// POST /reviews, GET /campaigns/{id}, POST /campaigns/{id}/decisions and /close (IAM): access review campaigns
import { jiraTicketing } from '../../shared/aws/jira.js';
import { httpHandler } from '../../shared/aws/lambda.js';
import { campaignRoute } from '../../shared/campaigns.js';
import { identityProviders } from '../../shared/connectors/identity.js';

export const handler = httpHandler(campaignRoute, { providers: identityProviders, ticketing: jiraTicketing });
