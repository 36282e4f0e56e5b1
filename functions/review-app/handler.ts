// GET /reviews/{app}?limit=&cursor= (IAM): one page of the review: who holds each role, who is in the group outside Grantline, which grants lost their membership
import { httpHandler } from '../../shared/aws/lambda.js';
import { identityProviders } from '../../shared/connectors/identity.js';
import { getReview } from '../../shared/review.js';

export const handler = httpHandler(getReview, { providers: identityProviders });
