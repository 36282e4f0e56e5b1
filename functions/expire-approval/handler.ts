// State machine: an approval step timed out, the request is denied
import { jiraTicketing } from '../../shared/aws/jira.js';
import { taskHandler } from '../../shared/aws/lambda.js';

export const handler = taskHandler('ApprovalTimedOut', { ticketing: jiraTicketing });
