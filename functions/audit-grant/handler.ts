// GET /grants/{id}: one grant, the auditor's answers and its evidence
import { httpHandler } from '../../shared/aws/lambda.js';
import { getGrant } from '../../shared/audit.js';

export const handler = httpHandler(getGrant);
