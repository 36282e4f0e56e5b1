// Asynchronous invoke by slack-interactions: files a request submitted in the Slack form (Jira issue, then the grant)
import { jiraTicketing } from '../../shared/aws/jira.js';
import { filingHandler } from '../../shared/aws/lambda.js';
import { slackChat } from '../../shared/aws/slack.js';

export const handler = filingHandler({ ticketing: jiraTicketing, chat: slackChat });
