// State machine: an approval step timed out, the request is denied
import { taskHandler } from '../../shared/aws/lambda.js';

export const handler = taskHandler('ApprovalTimedOut');
