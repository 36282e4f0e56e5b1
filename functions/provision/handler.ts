// State machine: add the subject to the identity-provider group (or the owner's manual task)
import { identityProviders } from '../../shared/connectors/identity.js';
import { taskHandler } from '../../shared/aws/lambda.js';

export const handler = taskHandler('Provision', identityProviders);
