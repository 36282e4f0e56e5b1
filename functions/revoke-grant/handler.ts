// POST /grants/{id}/revoke (IAM): an access review's or an early release's revocation, through the same path as expiry
import { jiraTicketing } from '../../shared/aws/jira.js';
import { httpHandler } from '../../shared/aws/lambda.js';
import { identityProviders } from '../../shared/connectors/identity.js';
import { postRevoke } from '../../shared/review.js';

export const handler = httpHandler(postRevoke, { providers: identityProviders, ticketing: jiraTicketing });
