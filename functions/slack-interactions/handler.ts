// Slack Approve/Deny clicks, and the request form (choices redraw it; a submission is handed to file-request)
import { httpHandler } from '../../shared/aws/lambda.js';
import { slackChat } from '../../shared/aws/slack.js';
import { receiveSlackInteraction } from '../../shared/slack-routes.js';

export const handler = httpHandler(receiveSlackInteraction, { chat: slackChat });
