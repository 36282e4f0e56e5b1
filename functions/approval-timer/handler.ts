// State machine: an approval step's timer fell due (a reminder, the escalation, the deadline)
import { jiraTicketing } from '../../shared/aws/jira.js';
import { taskHandler } from '../../shared/aws/lambda.js';
import { slackChat } from '../../shared/aws/slack.js';

export const handler = taskHandler('ApprovalTimer', { ticketing: jiraTicketing, chat: slackChat });
