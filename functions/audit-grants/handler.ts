// GET /grants?user= or ?app=: grants with their evidence
import { httpHandler } from '../../shared/aws/lambda.js';
import { getGrants } from '../../shared/audit.js';

export const handler = httpHandler(getGrants);
