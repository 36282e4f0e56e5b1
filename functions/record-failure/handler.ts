// State machine: mark the grant failed and write why
import { taskHandler } from '../../shared/aws/lambda.js';

export const handler = taskHandler('RecordFailure');
