// State machine (callback): ask the approvers in Slack, keep the task token
import { taskHandler } from '../../shared/aws/lambda.js';

export const handler = taskHandler('RequestApproval');
