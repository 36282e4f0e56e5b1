// POST /grants/{id}/extend (IAM): an extension request; it goes through the role's approval again, and on approval the grant's one schedule moves
import { jiraTicketing } from '../../shared/aws/jira.js';
import { httpHandler } from '../../shared/aws/lambda.js';
import { postExtend } from '../../shared/extension.js';

export const handler = httpHandler(postExtend, { ticketing: jiraTicketing });
