// Slack /access command: files the Jira issue, then the request
import { httpHandler } from '../../shared/aws/lambda.js';
import { receiveSlackCommand } from '../../shared/slack-routes.js';

export const handler = httpHandler(receiveSlackCommand);
