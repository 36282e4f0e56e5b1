// State machine (callback): ask the approvers in Slack, keep the task token
import { jiraTicketing } from '../../shared/aws/jira.js';
import { taskHandler } from '../../shared/aws/lambda.js';
import { slackChat } from '../../shared/aws/slack.js';

export const handler = taskHandler('RequestApproval', { ticketing: jiraTicketing, chat: slackChat });
