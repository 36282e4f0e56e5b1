// State machine: plan approvals, then read each step's decision
import { identityProviders } from '../../shared/connectors/identity.js';
import { taskHandler } from '../../shared/aws/lambda.js';

export const handler = taskHandler('Advance', identityProviders);
