// State machine: one-time EventBridge Scheduler schedule at expiry (an expiry already past is revoked at once, hence the providers)
import { identityProviders } from '../../shared/connectors/identity.js';
import { taskHandler } from '../../shared/aws/lambda.js';

export const handler = taskHandler('ScheduleRevocation', identityProviders);
