// GET /grants/{id}: one grant, the auditor's answers and its evidence
import { getGrant } from '../../shared/audit.js';
import { httpHandler } from '../../shared/aws/lambda.js';

export const handler = httpHandler(getGrant);
