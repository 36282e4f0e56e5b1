// GET /audit/chains, GET /audit/anchors, POST /audit/anchor (IAM auth), and daily (EventBridge rule): the ledger's hash chains and their anchors
import { s3AnchorCopies } from '../../shared/aws/anchors.js';
import { isScheduledEvent, routeOrEventHandler } from '../../shared/aws/lambda.js';
import { PermanentError } from '../../shared/errors.js';
import { anchorYesterday, ledgerAuditRoute } from '../../shared/ledger-audit.js';

// The table and the anchor bucket (GRANTLINE_ANCHOR_BUCKET): no Jira, Slack or identity provider.
export const handler = routeOrEventHandler(
  ledgerAuditRoute,
  (deps, event) => {
    if (!isScheduledEvent(event)) throw new PermanentError("not the daily anchor's scheduled event");
    return anchorYesterday(deps);
  },
  { anchorCopies: s3AnchorCopies },
);
