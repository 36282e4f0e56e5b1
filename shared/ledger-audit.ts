/**
 * The ledger's proof, as the auditor's tools read it: every chain that moved since a day (with its
 * events, their links and its head), every anchor (with its write-once copy), and anchoring a day.
 * Verification itself runs on the auditor's side (`grantline audit verify`, shared/chain.ts), from
 * what these routes return: it trusts nothing Grantline computed.
 */
import * as z from 'zod';
import { authorizeAuditor } from './audit.js';
import { type Anchor, type AnchorCopies, anchorDay, type ChainHead } from './chain.js';
import { MalformedRequestError } from './errors.js';
import type { EvidenceEvent } from './grants/model.js';
import { json, parseJsonBody, type HttpRequest, type HttpResponse } from './http.js';
import type { Services } from './services.js';
import { decodeCursor, encodeCursor } from './store/page.js';

export type LedgerAuditDeps = Pick<Services, 'config' | 'store' | 'clock' | 'logger'> & { anchorCopies?: AnchorCopies | undefined };

/** A grant's chain as stored: its events in ledger order (with their links) and its head. */
export interface StoredChain {
  grantId: string;
  events: EvidenceEvent[];
  head?: ChainHead;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const GRANT_ID = /^[0-9A-Za-z_.-]{1,100}$/;
const CHAINS_PER_PAGE = 50;

export async function chainOf(deps: Pick<Services, 'store'>, grantId: string): Promise<StoredChain> {
  const head = await deps.store.chainHead(grantId);
  return { grantId, events: await deps.store.evidence(grantId), ...(head ? { head } : {}) };
}

/**
 * GET /audit/chains?since=YYYY-MM-DD&grant=ID&cursor=: the chains that moved on each day from `since`
 * (every day when absent), a page at a time (`nextCursor`); a grant that moved on several days comes
 * once per day. With `grant`, that one chain.
 */
export async function getChains(deps: LedgerAuditDeps, req: HttpRequest): Promise<HttpResponse> {
  authorizeAuditor(deps.config, req);
  const grant = req.query.grant?.trim();
  if (grant) {
    if (!GRANT_ID.test(grant)) throw new MalformedRequestError('grant must be a grant id');
    return json(200, { chains: [await chainOf(deps, grant)] });
  }
  const since = req.query.since?.trim() || '0000-00-00';
  if (since !== '0000-00-00' && !DAY.test(since)) throw new MalformedRequestError('since must be a day, YYYY-MM-DD');
  const at = decodeCursor(req.query.cursor, ['day', 'after'], {}) as { day?: string; after?: string } | undefined;
  const days = (await deps.store.chainDays(at?.day ?? since)).filter((d) => d >= since);
  const chains: StoredChain[] = [];
  for (const day of days) {
    const heads = (await deps.store.chainsChangedOn(day)).map((h) => h.grantId).sort();
    const from = day === at?.day && at.after ? heads.filter((g) => g > at.after!) : heads;
    for (const grantId of from) {
      if (chains.length === CHAINS_PER_PAGE) {
        return json(200, { chains, nextCursor: encodeCursor({ day, after: chains.at(-1)!.grantId }) });
      }
      chains.push(await chainOf(deps, grantId));
    }
  }
  return json(200, { chains });
}

/** GET /audit/anchors?since=YYYY-MM-DD: every anchor from that day on, each with its write-once copy as read back. */
export async function getAnchors(deps: LedgerAuditDeps, req: HttpRequest): Promise<HttpResponse> {
  authorizeAuditor(deps.config, req);
  const since = req.query.since?.trim() || '0000-00-00';
  if (since !== '0000-00-00' && !DAY.test(since)) throw new MalformedRequestError('since must be a day, YYYY-MM-DD');
  const anchors: Array<{ anchor: Anchor; copy?: Anchor }> = [];
  for (const anchor of await deps.store.anchors(since)) {
    // An anchor recorded without a copy (no anchor store then) names none: nothing to read.
    const copy = anchor.copy && deps.anchorCopies ? await deps.anchorCopies.read(anchor) : undefined;
    anchors.push({ anchor, ...(copy ? { copy } : {}) });
  }
  return json(200, { anchors });
}

const anchorBody = z.object({ day: z.string().regex(DAY).optional() }).strict();

/** POST /audit/anchor {day?}: anchors that day (today when absent) now. */
export async function postAnchor(deps: LedgerAuditDeps, req: HttpRequest): Promise<HttpResponse> {
  authorizeAuditor(deps.config, req);
  const body = anchorBody.safeParse(req.rawBody.trim() ? parseJsonBody(req.rawBody) : {});
  if (!body.success) throw new MalformedRequestError('an anchor takes {"day"?: "YYYY-MM-DD"}');
  const anchor = await anchorDay(deps, body.data.day ?? deps.clock.now().toISOString().slice(0, 10));
  return json(201, {
    day: anchor.day,
    anchoredAt: anchor.anchoredAt,
    root: anchor.root,
    chains: anchor.heads.length,
    ...(anchor.copy ? { copy: anchor.copy } : {}),
  });
}

/** The daily anchor: the day before, whose heads are final. */
export function anchorYesterday(deps: LedgerAuditDeps): Promise<Anchor> {
  const yesterday = new Date(deps.clock.now().getTime() - 86_400_000).toISOString().slice(0, 10);
  return anchorDay(deps, yesterday);
}

/** The audit-ledger function's routes. */
export async function ledgerAuditRoute(deps: LedgerAuditDeps, req: HttpRequest): Promise<HttpResponse> {
  if (req.method === 'POST') return postAnchor(deps, req);
  if (req.path.endsWith('/anchors')) return getAnchors(deps, req);
  return getChains(deps, req);
}
