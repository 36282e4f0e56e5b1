/**
 * POST /audit/attachments: an audit file attached to a Jira issue (the audit pack's `--attach-to`).
 * Served by review-campaign, the audit-side function that holds the Jira secret; kept out of the
 * audit read routes' bundles.
 */
import * as z from 'zod';
import { authorizeAuditor, type AuditDeps } from './audit.js';
import { MalformedRequestError } from './errors.js';
import { json, parseJsonBody, type HttpRequest, type HttpResponse } from './http.js';
import type { Services } from './services.js';

/**
 * The largest audit file POST /audit/attachments takes, in characters: its JSON body stays within a
 * synchronous Lambda invocation's 6 MB. (The local runtime takes bodies up to 256 KB.)
 */
export const MAX_ATTACHMENT_CHARS = 3_500_000;

const attachmentBody = z
  .object({
    issueKey: z.string().regex(/^[A-Z][A-Z0-9_]{0,19}-\d{1,10}$/),
    filename: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}\.(csv|md)$/),
    content: z.string().max(MAX_ATTACHMENT_CHARS),
  })
  .strict();

/**
 * POST /audit/attachments {issueKey, filename, content}: attaches an audit file (CSV or Markdown) to a
 * Jira issue, e.g. the audit's request; 201 `attached`, or 200 `exists` when the issue already has a
 * file of that name (Jira keeps the first: a retry attaches nothing twice).
 */
export async function postAttachment(deps: AuditDeps & Pick<Services, 'ticketing'>, req: HttpRequest): Promise<HttpResponse> {
  const caller = authorizeAuditor(deps.config, req);
  const body = attachmentBody.safeParse(parseJsonBody(req.rawBody));
  if (!body.success) {
    throw new MalformedRequestError(
      `an attachment takes {"issueKey": "ACC-123", "filename": "<name>.csv" | "<name>.md", "content": "<at most ${MAX_ATTACHMENT_CHARS} characters>"}: ${body.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const { issueKey, filename, content } = body.data;
  const outcome = await deps.ticketing.attachFile(issueKey, { filename, content, contentType: filename.endsWith('.md') ? 'text/markdown' : 'text/csv' });
  return json(outcome === 'attached' ? 201 : 200, { outcome, issueKey, filename, by: caller });
}
