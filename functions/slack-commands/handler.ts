// Slack /access command: files the Jira issue, then the request
import { jiraTicketing } from '../../shared/aws/jira.js';
import { httpHandler } from '../../shared/aws/lambda.js';
import { slackChat } from '../../shared/aws/slack.js';
import { receiveSlackCommand } from '../../shared/slack-routes.js';

export const handler = httpHandler(receiveSlackCommand, { ticketing: jiraTicketing, chat: slackChat });
