// GET /reviews/{app} (IAM): who holds each role, who is in the group outside Grantline, which grants lost their membership
import { identityProviders } from '../../shared/connectors/identity.js';
import { httpHandler } from '../../shared/aws/lambda.js';
import { getReview } from '../../shared/review.js';

export const handler = httpHandler(getReview, identityProviders);
