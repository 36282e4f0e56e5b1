// GET /grants?user= or ?app=: grants with their evidence
import { getGrants } from '../../shared/audit.js';
import { httpHandler } from '../../shared/aws/lambda.js';

export const handler = httpHandler(getGrants);
