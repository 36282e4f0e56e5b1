// Every few minutes: deliver evidence that Jira could not take when it happened (the ledger already has it).
import middy from '@middy/core';
import { jiraTicketing } from '../../shared/aws/jira.js';
import { awsDeps } from '../../shared/aws/runtime.js';
import { flushEvidence } from '../../shared/evidence.js';

export const handler = middy(async () => ({ delivered: await flushEvidence(await awsDeps({ ticketing: jiraTicketing })) }));
