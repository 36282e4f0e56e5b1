// Slack Approve/Deny clicks
import { httpHandler } from '../../shared/aws/lambda.js';
import { slackChat } from '../../shared/aws/slack.js';
import { receiveSlackInteraction } from '../../shared/slack-routes.js';

export const handler = httpHandler(receiveSlackInteraction, { chat: slackChat });
