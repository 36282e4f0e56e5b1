// State machine: one-time EventBridge Scheduler schedule at expiry
import { taskHandler } from '../../shared/aws/lambda.js';

export const handler = taskHandler('ScheduleRevocation');
