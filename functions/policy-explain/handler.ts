// GET /policy/explain?requester=&subject=&app=&role=&duration= (IAM): who would be asked to approve, and why; changes nothing
import { httpHandler } from '../../shared/aws/lambda.js';
import { identityProviders } from '../../shared/connectors/identity.js';
import { getPolicyExplain } from '../../shared/policy-explain.js';

export const handler = httpHandler(getPolicyExplain, { providers: identityProviders });
