// Slack /access command: opens the request form (the submission is filed by file-request)
import { httpHandler } from '../../shared/aws/lambda.js';
import { slackChat } from '../../shared/aws/slack.js';
import { receiveSlackCommand } from '../../shared/slack-routes.js';

export const handler = httpHandler(receiveSlackCommand, { chat: slackChat });
