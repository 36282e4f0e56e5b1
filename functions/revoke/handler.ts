// EventBridge Scheduler target (and early release / access review): remove the membership
import { identityProviders } from '../../shared/connectors/identity.js';
import { taskHandler } from '../../shared/aws/lambda.js';

export const handler = taskHandler('Revoke', identityProviders);
