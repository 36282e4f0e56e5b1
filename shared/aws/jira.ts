/**
 * Jira Cloud through jira.js, for the functions that post evidence, read a reporter or file an issue.
 * Passed in by their handlers (functions/*\/handler.ts), like the identity providers: only they bundle
 * and load jira.js and axios (the Slack interaction and audit functions do not).
 */
import { required, type Config } from '../config.js';
import { JiraTicketing } from '../connectors/jira.js';
import type { Ticketing } from '../ports.js';

export function jiraTicketing(config: Config): Ticketing {
  return new JiraTicketing({
    baseUrl: required(config, 'JIRA_BASE_URL'),
    email: required(config, 'JIRA_EMAIL'),
    apiToken: required(config, 'JIRA_API_TOKEN'),
    projectKey: config.JIRA_PROJECT_KEY,
    issueTypeName: config.JIRA_ISSUE_TYPE,
  });
}
