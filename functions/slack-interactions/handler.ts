// Slack Approve/Deny clicks
import { httpHandler } from '../../shared/aws/lambda.js';
import { receiveSlackInteraction } from '../../shared/slack-routes.js';

export const handler = httpHandler(receiveSlackInteraction);
