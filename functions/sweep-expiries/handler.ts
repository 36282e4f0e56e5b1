// Every 5 minutes: the expiry safety net (revokes overdue grants, recreates missing schedules) and the notice before access ends.
import middy from '@middy/core';
import { jiraTicketing } from '../../shared/aws/jira.js';
import { slackChat } from '../../shared/aws/slack.js';
import { awsDeps } from '../../shared/aws/runtime.js';
import { identityProviders } from '../../shared/connectors/identity.js';
import { sweepExpiries } from '../../shared/sweep.js';

export const handler = middy(async () => sweepExpiries(await awsDeps({ providers: identityProviders, ticketing: jiraTicketing, chat: slackChat })));
