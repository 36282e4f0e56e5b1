// POST /offboard (IAM), and the Jira webhook's hand-over for an offboarding issue: every active grant of the person ends, and their sessions
import { jiraTicketing } from '../../shared/aws/jira.js';
import { offboardHandler } from '../../shared/aws/lambda.js';
import { identityProviders } from '../../shared/connectors/identity.js';

export const handler = offboardHandler({ providers: identityProviders, ticketing: jiraTicketing });
