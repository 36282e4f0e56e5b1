// GET /evidence/pending (IAM): evidence Jira has not taken yet, and evidence it refused for good
import { httpHandler } from '../../shared/aws/lambda.js';
import { getPendingEvidence } from '../../shared/evidence.js';

export const handler = httpHandler(getPendingEvidence);
