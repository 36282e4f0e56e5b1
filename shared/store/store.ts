/**
 * The ledger: grants, approvals, append-only evidence, the Jira outbox and local schedules, in one
 * DynamoDB table (see table.ts). Every state change is a conditional write, so a duplicate webhook,
 * a double click or a second scheduler firing finds the work done and changes nothing.
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { MalformedRequestError, RetryableError } from '../errors.js';
import type { Approval, ApprovalStatus, EvidenceEvent, Grant, GrantStatus, MembershipKey, MembershipRecord, QuorumApproval } from '../grants/model.js';
import type { Campaign, CampaignItem, ReviewMessageRecord } from '../campaigns.js';
import type { Anchor, ChainHead, ChainLink } from '../chain.js';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from './page.js';
import { CommandReceipts } from './idempotency.js';
import { RateBuckets } from './rate-buckets.js';
import { INDEXES, type IndexName } from './table.js';

const INDEX_ATTRS = ['gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'gsi3pk', 'gsi3sk', 'gsi4pk', 'gsi4sk'] as const;

/** Grants requested from `from` to `to`, both inclusive: ISO instants or their prefixes (a day `2026-03-31` is the whole day). */
export interface RequestedRange {
  from: string;
  to: string;
}

/** The index sort keys (`<requestedAt>#<id>`) of a period: `~` sorts after every character of an instant and of `#`. */
const rangeValues = (r: RequestedRange) => ({ ':from': r.from, ':to': `${r.to}~` });

export interface Delivery {
  grantId: string;
  key: string;
  /** The event's place in the grant's ledger (absent on records written before numbering). */
  seq?: number;
  at: string;
  /** When the delivery record was written: it precedes its event, which may still be on its way. */
  createdAt: string;
  /** posting: a post was started (write-ahead), so Jira may have the comment even though nobody marked it. */
  status: 'pending' | 'posting' | 'commented' | 'delivered';
  /** How many posts were started. */
  attempts: number;
  /**
   * Set once delivered: undeliverable when Jira refused the event for good (kept in the ledger only);
   * void when the slot holds no event (a concurrent writer recorded it under another number, or the
   * writer died before recording it).
   */
  outcome?: 'delivered' | 'undeliverable' | 'void';
}

/** What names a delivery record: numbered slots, and the keyed records written before numbering. */
export type DeliveryRef = Pick<Delivery, 'grantId' | 'key' | 'seq'>;

const SEQ_DIGITS = 6;
function deliverySk(delivery: Pick<Delivery, 'key' | 'seq'>): string {
  return delivery.seq === undefined ? `DELIVERY#${delivery.key}` : `DELIVERY#${String(delivery.seq).padStart(SEQ_DIGITS, '0')}`;
}

/**
 * The ledger's order: by sequence number. Events recorded before numbering come first, by time and,
 * within one millisecond, in the lifecycle's order.
 */
function ledgerOrder(a: { seq?: number; at: string; key: string }, b: { seq?: number; at: string; key: string }): number {
  return (a.seq ?? 0) - (b.seq ?? 0) || a.at.localeCompare(b.at) || lifecycleOrder(a.key) - lifecycleOrder(b.key);
}

function toDelivery(item: Record<string, unknown>): Delivery {
  return {
    grantId: String(item.grantId),
    key: String(item.key),
    ...(item.seq === undefined ? {} : { seq: Number(item.seq) }),
    at: String(item.at),
    createdAt: String(item.createdAt ?? item.at),
    status: item.status as Delivery['status'],
    attempts: Number(item.attempts ?? 0),
    ...(item.outcome ? { outcome: item.outcome as NonNullable<Delivery['outcome']> } : {}),
  };
}

export interface ScheduleItem {
  name: string;
  at: string;
  grantId: string;
}

export class Store {
  private readonly doc: DynamoDBDocumentClient;
  /** Receipts of Slack commands (shared/store/idempotency.ts). */
  readonly commands: CommandReceipts;
  /** The provider rate limits' token buckets, shared by every process (shared/store/rate-buckets.ts). */
  readonly rateBuckets: RateBuckets;

  constructor(
    client: DynamoDBClient,
    readonly table: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    this.commands = new CommandReceipts(this.doc, table);
    this.rateBuckets = new RateBuckets(this.doc, table);
  }

  // ---- grants

  async createGrant(grant: Grant): Promise<'created' | 'exists'> {
    const written = await this.conditional(
      new PutCommand({
        TableName: this.table,
        Item: grantItem(grant),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return written ? 'created' : 'exists';
  }

  /**
   * Write-ahead of a revocation: marks an active grant as ending, so an extension can no longer move
   * its expiry (extendGrant's condition). With `expiry` (a schedule's firing), only while the grant
   * still ends then: a schedule that fires after an extension moved the expiry marks nothing. A grant
   * already marked stays marked: a retried revocation goes on. False when not active, or moved.
   */
  async markEnding(id: string, at: string, expiry?: string): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(id), sk: 'GRANT' },
        UpdateExpression: 'SET endingAt = if_not_exists(endingAt, :at)',
        ConditionExpression: expiry ? '#status = :active AND (attribute_exists(endingAt) OR expiresAt = :expiry)' : '#status = :active',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':at': at, ':active': 'active', ...(expiry ? { ':expiry': expiry } : {}) },
      }),
    );
  }

  /**
   * Moves an active grant's expiry from `from` to `to` (an approved extension), unless a revocation
   * has begun (markEnding) or the expiry moved meanwhile. The expiry index moves with it.
   */
  async extendGrant(id: string, from: string, to: string, at: string): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(id), sk: 'GRANT' },
        UpdateExpression: 'SET expiresAt = :to, gsi4sk = :sk, updatedAt = :at',
        ConditionExpression: '#status = :active AND expiresAt = :from AND attribute_not_exists(endingAt)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':to': to, ':sk': `${to}#${id}`, ':from': from, ':active': 'active', ':at': at },
      }),
    );
  }

  /** Marks that the notice before this expiry was sent, once per expiry: true for the one caller that marked it. */
  async markExpiryNotice(id: string, expiresAt: string): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(id), sk: 'GRANT' },
        UpdateExpression: 'SET expiryNoticeFor = :exp',
        ConditionExpression: '#status = :active AND expiresAt = :exp AND (attribute_not_exists(expiryNoticeFor) OR expiryNoticeFor <> :exp)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':exp': expiresAt, ':active': 'active' },
      }),
    );
  }

  /** Lists an extension request on the grant it extends, as its `count`-th: false when another was listed first. */
  async addExtension(id: string, extensionId: string, count: number): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(id), sk: 'GRANT' },
        UpdateExpression: 'SET extensions = list_append(if_not_exists(extensions, :empty), :id)',
        ConditionExpression: count === 1 ? 'attribute_not_exists(extensions)' : 'size(extensions) = :before',
        ExpressionAttributeValues: { ':id': [extensionId], ':empty': [], ...(count === 1 ? {} : { ':before': count - 1 }) },
      }),
    );
  }

  async getGrant(id: string): Promise<Grant | undefined> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: grantPk(id), sk: 'GRANT' }, ConsistentRead: true }));
    return Item ? stripGrant(Item) : undefined;
  }

  /**
   * The Slack message that told the requester their request was filed (requests made in Slack): the
   * outcome is told in its thread. Its own item (pk GRANT#<id>, sk THREAD), outside the grant's
   * conditional updates and outside the evidence range of the partition.
   */
  async setRequestThread(grantId: string, ref: { channel: string; ts: string }): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.table, Item: { pk: grantPk(grantId), sk: 'THREAD', channel: ref.channel, ts: ref.ts } }));
  }

  async requestThread(grantId: string): Promise<{ channel: string; ts: string } | undefined> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: grantPk(grantId), sk: 'THREAD' } }));
    return Item && typeof Item.channel === 'string' && typeof Item.ts === 'string' ? { channel: Item.channel, ts: Item.ts } : undefined;
  }

  /**
   * Changes a grant only if its status is one of `from` (and, when given, its step is `step`):
   * the single mechanism that makes every lifecycle step idempotent. Returns the new grant, or
   * undefined when another actor got there first.
   */
  async updateGrant(id: string, from: readonly GrantStatus[], changes: Partial<Grant>, opts: { step?: number } = {}): Promise<Grant | undefined> {
    const current = await this.getGrant(id);
    if (!current || !from.includes(current.status)) return undefined;
    if (opts.step !== undefined && current.currentStep !== opts.step) return undefined;
    const next: Grant = { ...current, ...changes };
    const keys = grantIndexKeys(next);
    const sets: Record<string, unknown> = { ...changes, ...keys };
    const removes = INDEX_ATTRS.filter((attr) => !(attr in keys));
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':expected': current.status };
    const setParts = Object.entries(sets)
      .filter(([, v]) => v !== undefined)
      .map(([k, v], i) => {
        names[`#s${i}`] = k;
        values[`:s${i}`] = v;
        return `#s${i} = :s${i}`;
      });
    const removeParts = removes.map((attr, i) => {
      names[`#r${i}`] = attr;
      return `#r${i}`;
    });
    let condition = '#status = :expected';
    if (opts.step !== undefined) {
      names['#step'] = 'currentStep';
      values[':step'] = opts.step;
      condition += ' AND #step = :step';
    }
    const ok = await this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(id), sk: 'GRANT' },
        UpdateExpression: [setParts.length ? `SET ${setParts.join(', ')}` : '', removeParts.length ? `REMOVE ${removeParts.join(', ')}` : '']
          .filter(Boolean)
          .join(' '),
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
    return ok ? next : undefined;
  }

  /**
   * Settles a break-glass grant's review after the fact, once: a reviewer's confirmation or the
   * deadline, whichever writes first (the grant's status, which may change meanwhile, is not a
   * condition). The grant as settled, or undefined when it was settled before (or is no grant).
   */
  async settleBreakGlassReview(id: string, review: NonNullable<Grant['breakGlassReview']>): Promise<Grant | undefined> {
    const ok = await this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(id), sk: 'GRANT' },
        UpdateExpression: 'SET breakGlassReview = :review',
        ConditionExpression: 'attribute_exists(pk) AND attribute_exists(breakGlass) AND attribute_not_exists(breakGlassReview)',
        ExpressionAttributeValues: { ':review': review },
      }),
    );
    return ok ? this.getGrant(id) : undefined;
  }

  /** The Slack messages of a break-glass review, kept as each is posted (shared/break-glass.ts). */
  async setBreakGlassMessages(id: string, messages: NonNullable<Grant['breakGlassMessages']>): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(id), sk: 'GRANT' },
        UpdateExpression: 'SET breakGlassMessages = :m',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':m': messages },
      }),
    );
  }

  grantsOfUser(email: string): Promise<Grant[]> {
    return this.queryGrants('byPerson', 'gsi1pk', `USER#${email.toLowerCase()}`);
  }

  grantsOfApp(app: string): Promise<Grant[]> {
    return this.queryGrants('byApp', 'gsi2pk', `APP#${app}`);
  }

  /** One page of a user's grants, oldest request first (GET /grants?user=); with `requested`, only those requested in it. */
  grantsOfUserPage(email: string, page: PageRequest, requested?: RequestedRange): Promise<Page<Grant>> {
    return this.queryGrantsPage('byPerson', `USER#${email.toLowerCase()}`, page, requested);
  }

  /** One page of an app's grants, oldest request first (GET /grants?app=); with `requested`, only those requested in it. */
  grantsOfAppPage(app: string, page: PageRequest, requested?: RequestedRange): Promise<Page<Grant>> {
    return this.queryGrantsPage('byApp', `APP#${app}`, page, requested);
  }

  /**
   * One page of the grants requested in a period across `apps` (GET /grants?from=&to=, the audit pack's
   * population): the app index read app by app (sorted keys), each with its sort key (`<requestedAt>#<id>`)
   * BETWEEN the bounds, so only the grants of the period are read: no Scan, no filter. A page fills from
   * the next apps when one ends; the cursor names the app being read and the Query's key within it.
   */
  async grantsRequestedPage(apps: readonly string[], requested: RequestedRange, page: PageRequest): Promise<Page<Grant>> {
    const keys = [...new Set(apps)].sort();
    let at = 0;
    let start: Record<string, unknown> | undefined;
    if (page.cursor !== undefined) {
      // The app being read, then its Query's key (absent: that app from its start), checked as the other lists' cursors are.
      at = keys.indexOf(cursorApp(page.cursor) ?? '');
      if (at < 0) throw new MalformedRequestError('cursor is not one this list gave out: start again without it');
      const pinned = { app: keys[at]!, gsi2pk: `APP#${keys[at]}`, sk: 'GRANT' };
      const { app: _app, ...key } = cursorHasKey(page.cursor)
        ? decodeCursor(page.cursor, ['app', 'pk', 'sk', 'gsi2pk', 'gsi2sk'], pinned)!
        : decodeCursor(page.cursor, ['app'], { app: pinned.app })!;
      if (Object.keys(key).length > 0) start = key;
    }
    const found: Record<string, unknown>[] = [];
    while (at < keys.length && found.length < page.limit) {
      const result = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'byApp',
          KeyConditionExpression: 'gsi2pk = :v AND gsi2sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':v': `APP#${keys[at]}`, ...rangeValues(requested) },
          Limit: page.limit - found.length,
          ExclusiveStartKey: start,
        }),
      );
      found.push(...((result.Items ?? []) as Record<string, unknown>[]).filter((i) => i.sk === 'GRANT'));
      start = result.LastEvaluatedKey;
      if (!start) at += 1;
    }
    const nextCursor = at >= keys.length ? undefined : encodeCursor({ app: keys[at], ...start });
    return { items: found.map(stripGrant), ...(nextCursor ? { nextCursor } : {}) };
  }

  /** An app's active grants (access reviews): read from the app index, only the active ones returned. */
  async activeGrantsOfApp(app: string): Promise<Grant[]> {
    const items = await this.queryAll({
      TableName: this.table,
      IndexName: 'byApp',
      KeyConditionExpression: 'gsi2pk = :v',
      FilterExpression: '#status = :active AND sk = :grant',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':v': `APP#${app}`, ':active': 'active', ':grant': 'GRANT' },
    });
    return items.map(stripGrant);
  }

  /**
   * One page of an app role's active grants, oldest request first (access reviews): the app index read
   * on from the cursor, filtered in DynamoDB, until `limit` grants are found, the app's grants end, or
   * ten reads (10 MB) are spent on a long history of revoked grants (a short page, with a cursor
   * further on). The cursor is a key of this app's partition, checked like the other lists' (else 400).
   */
  async activeGrantsOfAppRolePage(app: string, role: string, page: PageRequest): Promise<Page<Grant>> {
    const value = `APP#${app}`;
    let start: Record<string, unknown> | undefined = decodeCursor(page.cursor, ['pk', 'sk', 'gsi2pk', 'gsi2sk'], { gsi2pk: value, sk: 'GRANT' });
    const found: Record<string, unknown>[] = [];
    for (let reads = 0; reads < 10 && found.length < page.limit; reads++) {
      const result = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'byApp',
          KeyConditionExpression: 'gsi2pk = :v',
          FilterExpression: '#status = :active AND sk = :grant AND #role = :role',
          ExpressionAttributeNames: { '#status': 'status', '#role': 'role' },
          ExpressionAttributeValues: { ':v': value, ':active': 'active', ':grant': 'GRANT', ':role': role },
          ExclusiveStartKey: start,
        }),
      );
      found.push(...((result.Items ?? []) as Record<string, unknown>[]));
      start = result.LastEvaluatedKey;
      if (!start) break;
    }
    if (found.length > page.limit) {
      // Cut at the limit: the next page starts after the last grant given out, not after the last one read.
      found.length = page.limit;
      const last = found[page.limit - 1]!;
      start = { pk: last.pk, sk: last.sk, gsi2pk: last.gsi2pk, gsi2sk: last.gsi2sk };
    }
    const nextCursor = encodeCursor(start);
    return { items: found.map(stripGrant), ...(nextCursor ? { nextCursor } : {}) };
  }

  activeGrantsIn(provider: string, groupId: string, email: string): Promise<Grant[]> {
    return this.queryGrants('active', 'gsi3pk', activeKey(provider, groupId, email));
  }

  /** Active grants whose expiry is at or before `iso`, oldest first (sweeps and reviews). */
  async expiringBefore(iso: string): Promise<Grant[]> {
    const items = await this.queryAll({
      TableName: this.table,
      IndexName: 'due',
      KeyConditionExpression: 'gsi4pk = :pk AND gsi4sk <= :until',
      ExpressionAttributeValues: { ':pk': 'EXPIRES', ':until': `${iso}~` },
    });
    return items.map(stripGrant);
  }

  /** Active grants expiring after `fromIso` and at or before `untilIso` (the sweeper's schedule check). */
  async expiringBetween(fromIso: string, untilIso: string): Promise<Grant[]> {
    const items = await this.queryAll({
      TableName: this.table,
      IndexName: 'due',
      KeyConditionExpression: 'gsi4pk = :pk AND gsi4sk BETWEEN :from AND :until',
      ExpressionAttributeValues: { ':pk': 'EXPIRES', ':from': `${fromIso}~`, ':until': `${untilIso}~` },
    });
    return items.map(stripGrant);
  }

  /** A full scan: for the local runtime's re-drive after a restart, not for request paths. */
  async grantsWithStatus(statuses: readonly GrantStatus[]): Promise<Grant[]> {
    const out: Grant[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: 'sk = :grant',
          ExpressionAttributeValues: { ':grant': 'GRANT' },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const grant = stripGrant(item);
        if (statuses.includes(grant.status)) out.push(grant);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  // ---- evidence (append-only)

  /** Writes the event once; false when an event with that key already exists (a retried step). */
  async appendEvidence(event: EvidenceEvent): Promise<boolean> {
    return this.conditional(
      new PutCommand({
        TableName: this.table,
        Item: evidenceItem(event),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async evidence(grantId: string): Promise<EvidenceEvent[]> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': grantPk(grantId), ':prefix': 'EVENT#' },
      ConsistentRead: true,
    });
    return items.map((item) => strip(item) as unknown as EvidenceEvent).sort(ledgerOrder);
  }

  // ---- the evidence chain (shared/chain.ts): each event's link, each grant's head, the heads by day, the anchors

  /** Writes an event's link once; true also when it already carries this same link (another sealer), false when it carries another. */
  async sealEvidence(grantId: string, key: string, link: ChainLink): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(grantId), sk: `EVENT#${key}` },
        UpdateExpression: 'SET prevHash = :prev, #hash = :hash',
        ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#hash) OR (#hash = :hash AND prevHash = :prev))',
        ExpressionAttributeNames: { '#hash': 'hash' },
        ExpressionAttributeValues: { ':prev': link.prevHash, ':hash': link.hash },
      }),
    );
  }

  async chainHead(grantId: string): Promise<ChainHead | undefined> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: grantPk(grantId), sk: 'CHAIN' }, ConsistentRead: true }));
    return Item ? ({ grantId, seq: Number(Item.seq), hash: String(Item.hash), at: String(Item.at) } satisfies ChainHead) : undefined;
  }

  /**
   * Moves the grant's chain head forward (never back: a slower sealer's older head is dropped) and
   * lists it under its day, for that day's anchor; `newDay`: the head last moved on another day, so
   * the day goes into the list of days with changes.
   */
  async advanceChainHead(head: ChainHead, newDay: boolean): Promise<void> {
    const forward = 'attribute_not_exists(pk) OR seq < :seq';
    const values = { ':seq': head.seq };
    const day = head.at.slice(0, 10);
    // The day's listings first and the head last: a writer cut short between them leaves the head
    // where it was, so the next sealer writes them all again.
    if (newDay) await this.doc.send(new PutCommand({ TableName: this.table, Item: { pk: 'CHAINDAYS', sk: day, day } }));
    await this.conditional(
      new PutCommand({
        TableName: this.table,
        Item: { pk: `CHAINS#${day}`, sk: head.grantId, ...head },
        ConditionExpression: forward,
        ExpressionAttributeValues: values,
      }),
    );
    await this.conditional(
      new PutCommand({
        TableName: this.table,
        Item: { pk: grantPk(head.grantId), sk: 'CHAIN', ...head },
        ConditionExpression: forward,
        ExpressionAttributeValues: values,
      }),
    );
  }

  /** The heads of the chains that moved on `day` (as each stood at the end of it, or now). */
  async chainsChangedOn(day: string): Promise<ChainHead[]> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `CHAINS#${day}` },
      ConsistentRead: true,
    });
    return items.map((i) => ({ grantId: String(i.grantId), seq: Number(i.seq), hash: String(i.hash), at: String(i.at) }));
  }

  /** The days on which some chain moved, from `since` (YYYY-MM-DD) on, oldest first. */
  async chainDays(since = '0000-00-00'): Promise<string[]> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND sk >= :since',
      ExpressionAttributeValues: { ':pk': 'CHAINDAYS', ':since': since },
      ConsistentRead: true,
    });
    return items.map((i) => String(i.day));
  }

  /**
   * Records an anchor: its root, then its heads in parts of ANCHOR_HEADS_PER_ITEM (a busy day's heads
   * outgrow one item's 400 KB), then the record listing how many parts there are.
   */
  async putAnchor(anchor: Anchor): Promise<void> {
    const pk = `ANCHOR#${anchor.day}#${anchor.anchoredAt}`;
    const parts = Math.ceil(anchor.heads.length / ANCHOR_HEADS_PER_ITEM);
    for (let i = 0; i < parts; i++) {
      const heads = anchor.heads.slice(i * ANCHOR_HEADS_PER_ITEM, (i + 1) * ANCHOR_HEADS_PER_ITEM);
      await this.doc.send(new PutCommand({ TableName: this.table, Item: { pk, sk: `HEADS#${String(i).padStart(5, '0')}`, heads } }));
    }
    const { heads: _heads, ...record } = anchor;
    await this.doc.send(new PutCommand({ TableName: this.table, Item: { pk: 'ANCHORS', sk: `${anchor.day}#${anchor.anchoredAt}`, ...record, parts } }));
  }

  /** Anchors of the days from `since` (YYYY-MM-DD) on, oldest first, each with its heads. */
  async anchors(since = '0000-00-00'): Promise<Anchor[]> {
    const records = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND sk >= :since',
      ExpressionAttributeValues: { ':pk': 'ANCHORS', ':since': since },
      ConsistentRead: true,
    });
    const out: Anchor[] = [];
    for (const record of records) {
      const { parts: _parts, ...anchor } = stripKeys(record) as unknown as Anchor & { parts: number };
      const parts = await this.queryAll({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `ANCHOR#${anchor.day}#${anchor.anchoredAt}` },
        ConsistentRead: true,
      });
      out.push({ ...anchor, heads: parts.flatMap((p) => p.heads as Anchor['heads']) });
    }
    return out;
  }

  // ---- approvals

  async createApproval(approval: Approval): Promise<'created' | 'exists'> {
    const ok = await this.conditional(
      new PutCommand({
        TableName: this.table,
        Item: { pk: grantPk(approval.grantId), sk: approvalSk(approval.step), ...approval },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    if (ok) await this.joinApproverIndex(approval, approval.approvers);
    return ok ? 'created' : 'exists';
  }

  /** Lists the step among each approver's pending approvals (the byPerson index). */
  private async joinApproverIndex(approval: Approval, approvers: string[]): Promise<void> {
    for (const approver of approvers) {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: grantPk(approval.grantId),
            sk: `ASSIGN#${approval.step}#${approver}`,
            gsi1pk: `APPROVER#${approver}`,
            gsi1sk: `${approval.requestedAt}#${approval.grantId}#${approval.step}`,
            grantId: approval.grantId,
            step: approval.step,
          },
        }),
      );
    }
  }

  async getApproval(grantId: string, step: number): Promise<Approval | undefined> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: grantPk(grantId), sk: approvalSk(step) }, ConsistentRead: true }));
    return Item ? (strip(Item) as unknown as Approval) : undefined;
  }

  /** A retried approval task brings a new token; only a pending approval takes it. */
  async replaceApprovalToken(grantId: string, step: number, taskToken: string): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(grantId), sk: approvalSk(step) },
        UpdateExpression: 'SET taskToken = :t',
        ConditionExpression: '#status = :pending',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':t': taskToken, ':pending': 'pending' },
      }),
    );
  }

  async setApprovalMessages(grantId: string, step: number, messages: Approval['messages']): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(grantId), sk: approvalSk(step) },
        UpdateExpression: 'SET messages = :m',
        ExpressionAttributeValues: { ':m': messages },
      }),
    );
  }

  // ---- access review campaigns (shared/campaigns.ts): the campaign, and its items as records of their own

  async createCampaign(campaign: Campaign): Promise<boolean> {
    // Listed by when it started, before it exists (a retried start lists it again under its own time: readers skip repeats and ids with no campaign).
    const listing = { pk: CAMPAIGNS_PK, sk: `CREATED#${campaign.createdAt}#${campaign.id}`, id: campaign.id, createdAt: campaign.createdAt };
    await this.doc.send(new PutCommand({ TableName: this.table, Item: listing }));
    return this.conditional(
      new PutCommand({
        TableName: this.table,
        Item: { pk: campaignPk(campaign.id), sk: 'CAMPAIGN', ...campaign },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async getCampaign(id: string): Promise<Campaign | undefined> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: campaignPk(id), sk: 'CAMPAIGN' }, ConsistentRead: true }));
    return Item ? (stripKeys(Item) as unknown as Campaign) : undefined;
  }

  /** Changes an open campaign (its issue, its item count, its close): false when it is not in `from`. */
  async updateCampaign(id: string, from: Campaign['status'][], changes: Partial<Campaign>): Promise<boolean> {
    const entries = Object.entries(changes).filter(([, v]) => v !== undefined);
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: campaignPk(id), sk: 'CAMPAIGN' },
        UpdateExpression: `SET ${entries.map((_, i) => `#k${i} = :v${i}`).join(', ')}`,
        ConditionExpression: `#status IN (${from.map((_, i) => `:from${i}`).join(', ')})`,
        ExpressionAttributeNames: { '#status': 'status', ...Object.fromEntries(entries.map(([k], i) => [`#k${i}`, k])) },
        ExpressionAttributeValues: {
          ...Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])),
          ...Object.fromEntries(from.map((f, i) => [`:from${i}`, f])),
        },
      }),
    );
  }

  /**
   * Writes the snapshot's items, keyed by position: a resumed start writes its snapshot again, and
   * the items of an earlier, longer snapshot beyond its end are deleted.
   */
  async putCampaignItems(id: string, items: CampaignItem[]): Promise<void> {
    for (const item of items) {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: { pk: campaignPk(id), sk: campaignItemSk(item.itemId), ...item } }));
    }
    const keep = new Set(items.map((i) => campaignItemSk(i.itemId)));
    const written = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :item)',
      ExpressionAttributeValues: { ':pk': campaignPk(id), ':item': 'ITEM#' },
      ProjectionExpression: 'pk, sk',
      ConsistentRead: true,
    });
    for (const key of written.filter((k) => !keep.has(k.sk as string))) {
      await this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: key.pk, sk: key.sk } }));
    }
  }

  /**
   * The campaigns the campaign sweep looks after: listed before the campaign is created (so a start
   * cut short is found) and delisted once its summary is posted.
   */
  async listCampaign(id: string): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.table, Item: { pk: CAMPAIGNS_PK, sk: `LISTED#${id}`, id } }));
  }

  async delistCampaign(id: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: CAMPAIGNS_PK, sk: `LISTED#${id}` } }));
  }

  async listedCampaigns(): Promise<string[]> {
    const listed = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :listed)',
      ExpressionAttributeValues: { ':pk': CAMPAIGNS_PK, ':listed': 'LISTED#' },
      ConsistentRead: true,
    });
    return listed.map((l) => l.id as string);
  }

  /**
   * One page of the ids of the campaigns started at or before `untilIso` (an instant or its prefix), newest
   * first (the audit pack's reviews: a campaign started before the period may be decided in it). Only
   * campaigns started since this listing was written are in it.
   */
  async campaignsStartedPage(untilIso: string, page: PageRequest): Promise<Page<{ id: string; createdAt: string }>> {
    const start = decodeCursor(page.cursor, ['pk', 'sk'], { pk: CAMPAIGNS_PK });
    const result = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :until',
        ExpressionAttributeValues: { ':pk': CAMPAIGNS_PK, ':first': 'CREATED#', ':until': `CREATED#${untilIso}~` },
        ScanIndexForward: false,
        Limit: page.limit,
        ExclusiveStartKey: start,
      }),
    );
    const nextCursor = encodeCursor(result.LastEvaluatedKey);
    return { items: (result.Items ?? []).map((i) => ({ id: String(i.id), createdAt: String(i.createdAt) })), ...(nextCursor ? { nextCursor } : {}) };
  }

  /** Records a reminder as sent (its name carries the due date it was for); false when it already was (another sweep sent it). */
  async claimCampaignReminder(id: string, reminder: string): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: campaignPk(id), sk: 'CAMPAIGN' },
        UpdateExpression: 'SET reminders = list_append(if_not_exists(reminders, :none), :one)',
        ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(reminders) OR NOT contains(reminders, :name))',
        ExpressionAttributeValues: { ':none': [], ':one': [reminder], ':name': reminder },
      }),
    );
  }

  /** Hands an undecided item from `from` to `to` (escalation); false when it was decided or handed over meanwhile. */
  async reassignCampaignItem(id: string, itemId: string, from: string, to: string): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: campaignPk(id), sk: campaignItemSk(itemId) },
        UpdateExpression: 'SET reviewer = :to, escalatedFrom = :from',
        ConditionExpression: 'attribute_exists(pk) AND reviewer = :from AND attribute_not_exists(decision) AND attribute_not_exists(escalatedFrom)',
        ExpressionAttributeValues: { ':from': from, ':to': to },
      }),
    );
  }

  /** A reviewer's Slack message of the campaign: where it is and the page it shows, or that Slack has no such person. */
  async reviewMessage(id: string, reviewer: string): Promise<ReviewMessageRecord | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: campaignPk(id), sk: reviewMessageSk(reviewer) }, ConsistentRead: true }),
    );
    return Item ? (stripKeys(Item) as unknown as ReviewMessageRecord) : undefined;
  }

  /**
   * Claims posting a reviewer's message: false when it is posted, or another run claimed it less
   * than `staleBefore` ago (a claim older than that belongs to a run that died before posting).
   */
  async claimReviewMessage(id: string, reviewer: string, now: string, staleBefore: string): Promise<boolean> {
    return this.conditional(
      new PutCommand({
        TableName: this.table,
        Item: { pk: campaignPk(id), sk: reviewMessageSk(reviewer), reviewer, page: 0, claimedAt: now },
        ConditionExpression: 'attribute_not_exists(pk) OR (attribute_not_exists(ts) AND attribute_not_exists(unreachable) AND claimedAt < :stale)',
        ExpressionAttributeValues: { ':stale': staleBefore },
      }),
    );
  }

  async setReviewMessage(id: string, reviewer: string, changes: Partial<Omit<ReviewMessageRecord, 'reviewer'>>): Promise<void> {
    const entries = Object.entries(changes).filter(([, v]) => v !== undefined);
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: campaignPk(id), sk: reviewMessageSk(reviewer) },
        UpdateExpression: `SET ${entries.map((_, i) => `#k${i} = :v${i}`).join(', ')}`,
        ExpressionAttributeNames: Object.fromEntries(entries.map(([k], i) => [`#k${i}`, k])),
        ExpressionAttributeValues: Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])),
      }),
    );
  }

  async campaignItems(id: string): Promise<CampaignItem[]> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :item)',
      ExpressionAttributeValues: { ':pk': campaignPk(id), ':item': 'ITEM#' },
      ConsistentRead: true,
    });
    return items.map((i) => stripKeys(i) as unknown as CampaignItem);
  }

  async getCampaignItem(id: string, itemId: string): Promise<CampaignItem | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: campaignPk(id), sk: campaignItemSk(itemId) }, ConsistentRead: true }),
    );
    return Item ? (stripKeys(Item) as unknown as CampaignItem) : undefined;
  }

  /** The item's one decision: false when it already has one (a second decision, or a second reviewer's click, changes nothing). */
  async decideCampaignItem(id: string, itemId: string, decision: NonNullable<CampaignItem['decision']>): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: campaignPk(id), sk: campaignItemSk(itemId) },
        UpdateExpression: 'SET decision = :d',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(decision)',
        ExpressionAttributeValues: { ':d': decision },
      }),
    );
  }

  /** What carrying out the decision did (the revocation's outcome). */
  async setCampaignItemResult(id: string, itemId: string, result: string): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: campaignPk(id), sk: campaignItemSk(itemId) },
        UpdateExpression: 'SET #result = :r',
        ExpressionAttributeNames: { '#result': 'result' },
        ExpressionAttributeValues: { ':r': result },
      }),
    );
  }

  // ---- drift reports (shared/drift.ts): per app, the last findings; per app and day, the issue and the last comment's digest

  async lastDrift(app: string): Promise<string[]> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: driftPk(app), sk: 'LAST' }, ConsistentRead: true }));
    return Array.isArray(Item?.findings) ? (Item.findings as string[]) : [];
  }

  async setLastDrift(app: string, findings: string[], at: string): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.table, Item: { pk: driftPk(app), sk: 'LAST', findings, at } }));
  }

  async driftDay(app: string, day: string): Promise<{ issueKey?: string; postedDigest?: string }> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: driftPk(app), sk: `DAY#${day}` }, ConsistentRead: true }));
    return {
      ...(typeof Item?.issueKey === 'string' ? { issueKey: Item.issueKey } : {}),
      ...(typeof Item?.postedDigest === 'string' ? { postedDigest: Item.postedDigest } : {}),
    };
  }

  /** Claims the filing of the app's issue for the day: true for the one run that files it (or takes over a stale claim). */
  async claimDriftDay(app: string, day: string, now: string, staleBefore: string): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: driftPk(app), sk: `DAY#${day}` },
        UpdateExpression: 'SET claimedAt = :now',
        ConditionExpression: 'attribute_not_exists(issueKey) AND (attribute_not_exists(claimedAt) OR claimedAt < :stale)',
        ExpressionAttributeValues: { ':now': now, ':stale': staleBefore },
      }),
    );
  }

  async setDriftDay(app: string, day: string, changes: { issueKey?: string; postedDigest?: string }): Promise<void> {
    const entries = Object.entries(changes).filter(([, v]) => v !== undefined);
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: driftPk(app), sk: `DAY#${day}` },
        UpdateExpression: `SET ${entries.map((_, i) => `#k${i} = :v${i}`).join(', ')}`,
        ExpressionAttributeNames: Object.fromEntries(entries.map(([k], i) => [`#k${i}`, k])),
        ExpressionAttributeValues: Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])),
      }),
    );
  }

  // ---- onboarding bundles: one approval message per (bundle, approver) (shared/bundles.ts)

  /** Adds an item (`grantId:step`) to the approver's bundle message, creating its record; returns the record as written. */
  async joinBundleMessage(bundleId: string, approver: string, item: string): Promise<BundleMessage> {
    const { Attributes } = await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: bundlePk(bundleId), sk: bundleMessageSk(approver) },
        UpdateExpression: 'ADD #items :item',
        ExpressionAttributeNames: { '#items': 'items' },
        ExpressionAttributeValues: { ':item': new Set([item]) },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return bundleMessageOf(bundleId, approver, Attributes ?? {});
  }

  async getBundleMessage(bundleId: string, approver: string): Promise<BundleMessage | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: bundlePk(bundleId), sk: bundleMessageSk(approver) }, ConsistentRead: true }),
    );
    return Item ? bundleMessageOf(bundleId, approver, Item) : undefined;
  }

  /**
   * Claims the posting of a bundle message not posted yet: true for the one poster. `poster` tells a
   * retry of the claimant (a crash after the claim) from another item, which leaves the post to it;
   * a claim older than `staleBefore` is taken over.
   */
  async claimBundlePost(bundleId: string, approver: string, poster: string, now: string, staleBefore: string): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: bundlePk(bundleId), sk: bundleMessageSk(approver) },
        UpdateExpression: 'SET postingBy = :poster, postingAt = :now',
        ConditionExpression:
          'attribute_exists(pk) AND attribute_not_exists(ts) AND (attribute_not_exists(postingBy) OR postingBy = :poster OR postingAt < :stale)',
        ExpressionAttributeValues: { ':poster': poster, ':now': now, ':stale': staleBefore },
      }),
    );
  }

  async setBundleMessagePosted(bundleId: string, approver: string, ref: { channel: string; ts: string }): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: bundlePk(bundleId), sk: bundleMessageSk(approver) },
        UpdateExpression: 'SET channel = :c, ts = :ts REMOVE postingBy, postingAt',
        ExpressionAttributeValues: { ':c': ref.channel, ':ts': ref.ts },
      }),
    );
  }

  /** Marks a pending step as reminded, once: true for the one caller that marked it (and sends the reminder). */
  async markReminded(grantId: string, step: number, at: string): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(grantId), sk: approvalSk(step) },
        UpdateExpression: 'SET remindedAt = :at',
        ConditionExpression: '#status = :pending AND attribute_not_exists(remindedAt)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':at': at, ':pending': 'pending' },
      }),
    );
  }

  /**
   * Escalates a pending step, once: `added` join its approvers in the same write that marks it
   * escalated, so they may decide from then on and a retry adds nobody twice. The record as written,
   * or undefined when the step was already escalated or is no longer pending.
   */
  async escalateApproval(grantId: string, step: number, added: string[], at: string): Promise<Approval | undefined> {
    const ok = await this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(grantId), sk: approvalSk(step) },
        UpdateExpression: 'SET approvers = list_append(approvers, :added), escalatedAt = :at, escalatedTo = :added',
        ConditionExpression: '#status = :pending AND attribute_not_exists(escalatedAt)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':added': added, ':at': at, ':pending': 'pending' },
      }),
    );
    if (!ok) return undefined;
    const escalated = await this.getApproval(grantId, step);
    if (escalated) await this.joinApproverIndex(escalated, added);
    return escalated;
  }

  /** Records, once, that this step's approvers were put on the Jira issue (JSM approvals). false: recorded before. */
  async setJiraApprovers(grantId: string, step: number, record: NonNullable<Approval['jiraApprovers']>): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(grantId), sk: approvalSk(step) },
        UpdateExpression: 'SET jiraApprovers = :r',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(jiraApprovers)',
        ExpressionAttributeValues: { ':r': record },
      }),
    );
  }

  /**
   * Takes a JSM approval's decision for this step, once: false when it was taken before (a replayed
   * webhook) or the step has no approval record.
   */
  async takeJiraApproval(grantId: string, step: number, jsmApprovalId: string): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(grantId), sk: approvalSk(step) },
        UpdateExpression: 'SET jiraApprovalsTaken = list_append(if_not_exists(jiraApprovalsTaken, :none), :id)',
        ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(jiraApprovalsTaken) OR NOT contains(jiraApprovalsTaken, :raw))',
        ExpressionAttributeValues: { ':none': [], ':id': [jsmApprovalId], ':raw': jsmApprovalId },
      }),
    );
  }

  /** Gives back a JSM approval taken by a webhook whose decision then failed, so the next delivery decides it. */
  async releaseJiraApproval(grantId: string, step: number, jsmApprovalId: string): Promise<void> {
    const taken = (await this.getApproval(grantId, step))?.jiraApprovalsTaken ?? [];
    if (!taken.includes(jsmApprovalId)) return;
    await this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(grantId), sk: approvalSk(step) },
        UpdateExpression: 'SET jiraApprovalsTaken = :rest',
        // As read (the list only grows, but for this): a concurrent take makes this one a no-op rather than undo it.
        ConditionExpression: 'size(jiraApprovalsTaken) = :size AND contains(jiraApprovalsTaken, :id)',
        ExpressionAttributeValues: { ':rest': taken.filter((id) => id !== jsmApprovalId), ':size': taken.length, ':id': jsmApprovalId },
      }),
    );
  }

  /** pending → decided, once: the first decision wins, every later one gets undefined. */
  async decideApproval(
    grantId: string,
    step: number,
    decision: { status: Exclude<ApprovalStatus, 'pending'>; by: string; at: string; channel: Approval['channel'] },
  ): Promise<Approval | undefined> {
    const current = await this.getApproval(grantId, step);
    if (current?.status !== 'pending') return undefined;
    const ok = await this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(grantId), sk: approvalSk(step) },
        UpdateExpression: 'SET #status = :s, decidedBy = :by, decidedAt = :at, channel = :ch',
        ConditionExpression: '#status = :pending',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':s': decision.status, ':by': decision.by, ':at': decision.at, ':ch': decision.channel, ':pending': 'pending' },
      }),
    );
    if (!ok) return undefined;
    await this.leaveApproverIndex(grantId, step, current.approvers);
    return { ...current, status: decision.status, decidedBy: decision.by, decidedAt: decision.at, channel: decision.channel };
  }

  /**
   * One approval of a quorum step, appended to its `approvals` while the step is pending and the
   * approver is not in the list yet. A versioned write: conditioned on the list being as read (its
   * size; the list only grows), so two approvals at once are both kept, one after the other, and
   * none is lost or counted twice; a deny or a timeout that closed the step first makes it 'closed'.
   * 'recorded' returns the record as written, with this approval at `position` (1-based).
   */
  async addQuorumApproval(
    grantId: string,
    step: number,
    entry: QuorumApproval,
  ): Promise<
    | { outcome: 'recorded'; approval: Approval; position: number }
    | { outcome: 'duplicate'; approval: Approval }
    | { outcome: 'closed'; approval: Approval }
    | { outcome: 'missing' }
  > {
    // Each failed attempt means another approval was appended (or the step closed) meanwhile: bounded by the approvers.
    for (let attempt = 0; attempt < QUORUM_WRITE_ATTEMPTS; attempt++) {
      const current = await this.getApproval(grantId, step);
      if (!current) return { outcome: 'missing' };
      const approvals = current.approvals ?? [];
      if (approvals.some((a) => a.by === entry.by)) return { outcome: 'duplicate', approval: current };
      if (current.status !== 'pending') return { outcome: 'closed', approval: current };
      const ok = await this.conditional(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: grantPk(grantId), sk: approvalSk(step) },
          UpdateExpression: 'SET approvals = list_append(if_not_exists(approvals, :none), :entry)',
          ConditionExpression:
            approvals.length === 0 ? '#status = :pending AND attribute_not_exists(approvals)' : '#status = :pending AND size(approvals) = :size',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':none': [],
            ':entry': [entry],
            ':pending': 'pending',
            ...(approvals.length === 0 ? {} : { ':size': approvals.length }),
          },
        }),
      );
      if (ok) return { outcome: 'recorded', approval: { ...current, approvals: [...approvals, entry] }, position: approvals.length + 1 };
    }
    throw new RetryableError(`the approvals of ${grantId} step ${step + 1} kept changing while one was being recorded; try again`);
  }

  /**
   * pending → approved for a quorum step, once, and only with at least `quorum` approvals recorded.
   * `reached` is the approval that reached the quorum (the quorum-th in the list): whichever caller
   * wins writes the same decision. undefined: the step was not pending (closed by another approval, a
   * deny or the timeout) or has fewer approvals.
   */
  async closeQuorum(grantId: string, step: number, quorum: number, reached: QuorumApproval): Promise<Approval | undefined> {
    const ok = await this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(grantId), sk: approvalSk(step) },
        UpdateExpression: 'SET #status = :approved, decidedBy = :by, decidedAt = :at, channel = :ch',
        ConditionExpression: '#status = :pending AND size(approvals) >= :quorum',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':approved': 'approved',
          ':by': reached.by,
          ':at': reached.at,
          ':ch': reached.via,
          ':pending': 'pending',
          ':quorum': quorum,
        },
      }),
    );
    if (!ok) return undefined;
    const closed = await this.getApproval(grantId, step);
    if (closed) await this.leaveApproverIndex(grantId, step, closed.approvers);
    return closed;
  }

  /** A closed step's assignments leave the approver index (pending for nobody); the items stay, so no runtime role needs dynamodb:DeleteItem. */
  private async leaveApproverIndex(grantId: string, step: number, approvers: string[]): Promise<void> {
    for (const approver of approvers) {
      await this.conditional(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: grantPk(grantId), sk: `ASSIGN#${step}#${approver}` },
          UpdateExpression: 'REMOVE gsi1pk, gsi1sk',
          ConditionExpression: 'attribute_exists(pk)',
        }),
      );
    }
  }

  async pendingApprovalsFor(email: string): Promise<Array<{ grantId: string; step: number }>> {
    const items = await this.queryAll({
      TableName: this.table,
      IndexName: 'byPerson',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': `APPROVER#${email.toLowerCase()}` },
    });
    return items.map((i) => ({ grantId: String(i.grantId), step: Number(i.step) }));
  }

  // ---- Jira delivery of evidence: one record per event, kept after delivery as the receipt

  /**
   * Takes the grant's next sequence number for an event and writes its delivery record there. The
   * numbers are the ledger's order: a slot is written only once every lower one exists (a writer
   * that finds its number taken moves to the next), so whoever sees slot n + 1 also sees slot n,
   * and a poster that posts in slot order posts in the ledger's order whatever runs concurrently.
   * `after`: the highest slot the caller saw taken (evidenceLedger).
   */
  async reserveDelivery(event: Pick<EvidenceEvent, 'grantId' | 'key' | 'at'>, createdAt: string, after: number): Promise<number> {
    let seq = after + 1;
    for (;;) {
      const written = await this.conditional(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: grantPk(event.grantId),
            sk: deliverySk({ seq, key: event.key }),
            grantId: event.grantId,
            key: event.key,
            seq,
            at: event.at,
            createdAt,
            status: 'pending',
            gsi4pk: 'UNDELIVERED',
            gsi4sk: `${createdAt}#${event.grantId}#${String(seq).padStart(SEQ_DIGITS, '0')}`,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      if (written) return seq;
      seq += 1;
    }
  }

  /** A grant's events and delivery records in one read (they sort next to each other): what recording and posting need. */
  async evidenceLedger(grantId: string): Promise<{ events: Map<string, EvidenceEvent>; deliveries: Delivery[] }> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':pk': grantPk(grantId), ':from': 'DELIVERY#', ':to': 'EVENT#\uffff' },
      ConsistentRead: true,
    });
    const events = new Map<string, EvidenceEvent>();
    const deliveries: Delivery[] = [];
    for (const item of items) {
      const sk = String(item.sk);
      if (sk.startsWith('EVENT#')) events.set(String(item.key), strip(item) as unknown as EvidenceEvent);
      else if (sk.startsWith('DELIVERY#')) deliveries.push(toDelivery(item));
    }
    return { events, deliveries: deliveries.sort(ledgerOrder) };
  }

  /** Undelivered evidence of one grant, in the ledger's order. */
  async pendingDeliveriesOf(grantId: string): Promise<Delivery[]> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': grantPk(grantId), ':prefix': 'DELIVERY#' },
      ConsistentRead: true,
    });
    return items
      .map(toDelivery)
      .filter((d) => d.status !== 'delivered')
      .sort(ledgerOrder);
  }

  /** Undelivered evidence of every grant, oldest first. */
  async pendingDeliveries(limit = 500): Promise<Delivery[]> {
    const { Items = [] } = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'due',
        KeyConditionExpression: 'gsi4pk = :pk',
        ExpressionAttributeValues: { ':pk': 'UNDELIVERED' },
        Limit: limit,
      }),
    );
    return Items.map(toDelivery);
  }

  async getEvidence(grantId: string, key: string): Promise<EvidenceEvent | undefined> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: grantPk(grantId), sk: `EVENT#${key}` }, ConsistentRead: true }));
    return Item ? (strip(Item) as unknown as EvidenceEvent) : undefined;
  }

  /** The comment is on the issue: a retry after a failed transition must not post it again. */
  async markCommented(delivery: DeliveryRef): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(delivery.grantId), sk: deliverySk(delivery) },
        UpdateExpression: 'SET #status = :s',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':s': 'commented' },
      }),
    );
  }

  /**
   * An undeliverable event stays listed (UNDELIVERABLE) for `grantline evidence pending`; a delivered
   * one leaves the index, as does a void slot (its event was recorded under another number, or never).
   */
  async markDelivered(delivery: DeliveryRef, outcome: NonNullable<Delivery['outcome']> = 'delivered'): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(delivery.grantId), sk: deliverySk(delivery) },
        UpdateExpression:
          outcome === 'undeliverable' ? 'SET #status = :s, outcome = :o, gsi4pk = :index' : 'SET #status = :s, outcome = :o REMOVE gsi4pk, gsi4sk',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':s': 'delivered', ':o': outcome, ...(outcome === 'undeliverable' ? { ':index': 'UNDELIVERABLE' } : {}) },
      }),
    );
  }

  /** Write-ahead, just before the comment is posted: from now on a retry first looks for the comment on the issue. */
  async markPosting(delivery: DeliveryRef): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(delivery.grantId), sk: deliverySk(delivery) },
        UpdateExpression: 'SET #status = :s, attempts = if_not_exists(attempts, :zero) + :one',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':s': 'posting', ':zero': 0, ':one': 1 },
      }),
    );
  }

  /** One page of the evidence Jira has not taken yet (UNDELIVERED) or refused for good (UNDELIVERABLE), oldest first. */
  async deliveriesPage(state: 'UNDELIVERED' | 'UNDELIVERABLE', page: PageRequest): Promise<Page<Delivery>> {
    const start = decodeCursor(page.cursor, ['pk', 'sk', 'gsi4pk', 'gsi4sk'], { gsi4pk: state });
    const result = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'due',
        KeyConditionExpression: 'gsi4pk = :pk',
        ExpressionAttributeValues: { ':pk': state },
        Limit: page.limit,
        ExclusiveStartKey: start,
      }),
    );
    const nextCursor = encodeCursor(result.LastEvaluatedKey);
    return { items: (result.Items ?? []).map(toDelivery), ...(nextCursor ? { nextCursor } : {}) };
  }

  /**
   * Takes, or renews, the lease on a grant's deliveries: one poster per Jira issue at a time, so its
   * comments keep the ledger's order. Succeeds when nobody holds the lease, when it lapsed before
   * `now` (its holder died), or when `owner` holds it already; false while another poster holds it.
   * ISO-8601 times from the injected clock, compared as strings.
   */
  async claimDeliveries(grantId: string, owner: string, now: string, until: string): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(grantId), sk: 'DELIVERY_LEASE' },
        UpdateExpression: 'SET leaseUntil = :until, #owner = :owner',
        ConditionExpression: 'attribute_not_exists(leaseUntil) OR leaseUntil < :now OR #owner = :owner',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':until': until, ':now': now, ':owner': owner },
      }),
    );
  }

  /** Gives the lease back; one that lapsed and was taken over by another poster is left to it. */
  async releaseDeliveries(grantId: string, owner: string): Promise<void> {
    await this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: grantPk(grantId), sk: 'DELIVERY_LEASE' },
        UpdateExpression: 'REMOVE leaseUntil, #owner',
        ConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':owner': owner },
      }),
    );
  }

  // ---- memberships: one record per (provider, group, IdP user), changed only by versioned conditional writes

  async getMembership(key: MembershipKey): Promise<MembershipRecord | undefined> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: membershipPk(key), sk: 'MEMBERSHIP' }, ConsistentRead: true }));
    return Item ? (strip(Item) as unknown as MembershipRecord) : undefined;
  }

  /**
   * Writes the record only if nobody changed it since it was read at `expectedVersion` (undefined:
   * only if it does not exist yet). false means another grant got there first: read it again.
   */
  async putMembership(record: MembershipRecord, expectedVersion: number | undefined): Promise<boolean> {
    return this.conditional(
      new PutCommand({
        TableName: this.table,
        Item: { pk: membershipPk(record), sk: 'MEMBERSHIP', ...record },
        ...(expectedVersion === undefined
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : { ConditionExpression: '#v = :v', ExpressionAttributeNames: { '#v': 'version' }, ExpressionAttributeValues: { ':v': expectedVersion } }),
      }),
    );
  }

  // ---- local one-time schedules (the AWS deployment uses EventBridge Scheduler instead)

  async putSchedule(schedule: ScheduleItem): Promise<'created' | 'exists'> {
    const ok = await this.conditional(
      new PutCommand({
        TableName: this.table,
        Item: { pk: `SCHEDULE#${schedule.name}`, sk: 'SCHEDULE', ...schedule, gsi4pk: 'SCHEDULES', gsi4sk: `${schedule.at}#${schedule.name}` },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return ok ? 'created' : 'exists';
  }

  /** Moves a schedule to a new time (an extension), creating it if it is gone. */
  async moveSchedule(schedule: ScheduleItem): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: `SCHEDULE#${schedule.name}`, sk: 'SCHEDULE', ...schedule, gsi4pk: 'SCHEDULES', gsi4sk: `${schedule.at}#${schedule.name}` },
      }),
    );
  }

  async getSchedule(name: string): Promise<ScheduleItem | undefined> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: `SCHEDULE#${name}`, sk: 'SCHEDULE' } }));
    return Item ? { name: String(Item.name), at: String(Item.at), grantId: String(Item.grantId) } : undefined;
  }

  async dueSchedules(iso: string): Promise<ScheduleItem[]> {
    const items = await this.queryAll({
      TableName: this.table,
      IndexName: 'due',
      KeyConditionExpression: 'gsi4pk = :pk AND gsi4sk <= :until',
      ExpressionAttributeValues: { ':pk': 'SCHEDULES', ':until': `${iso}~` },
    });
    return items.map((i) => ({ name: String(i.name), at: String(i.at), grantId: String(i.grantId) }));
  }

  async deleteSchedule(name: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: `SCHEDULE#${name}`, sk: 'SCHEDULE' } }));
  }

  // ---- helpers

  private async queryGrants(index: IndexName, attr: string, value: string): Promise<Grant[]> {
    const items = await this.queryAll({
      TableName: this.table,
      IndexName: index,
      KeyConditionExpression: `${attr} = :v`,
      ExpressionAttributeValues: { ':v': value },
    });
    return items.filter((i) => i.sk === 'GRANT').map(stripGrant);
  }

  /** One Query page of an index's grants; the cursor must be one this index and partition gave out (else 400). */
  private async queryGrantsPage(index: IndexName, value: string, page: PageRequest, requested?: RequestedRange): Promise<Page<Grant>> {
    const { pk, sk } = INDEXES.find((i) => i.name === index)!;
    const start = decodeCursor(page.cursor, ['pk', 'sk', pk, sk], { [pk]: value, sk: 'GRANT' });
    const result = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: index,
        // Both indexes sort a grant by `<requestedAt>#<id>`: a period is a range of the sort key.
        KeyConditionExpression: requested ? `${pk} = :v AND ${sk} BETWEEN :from AND :to` : `${pk} = :v`,
        ExpressionAttributeValues: { ':v': value, ...(requested ? rangeValues(requested) : {}) },
        Limit: page.limit,
        ExclusiveStartKey: start,
      }),
    );
    const nextCursor = encodeCursor(result.LastEvaluatedKey);
    return { items: (result.Items ?? []).filter((i) => i.sk === 'GRANT').map(stripGrant), ...(nextCursor ? { nextCursor } : {}) };
  }

  private async queryAll(input: QueryCommandInput): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
      out.push(...((page.Items ?? []) as Record<string, unknown>[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  private async conditional(command: PutCommand | UpdateCommand): Promise<boolean> {
    try {
      await this.doc.send(command as PutCommand);
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException || (err as Error).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }
}

const grantPk = (id: string) => `GRANT#${id}`;
const bundlePk = (bundleId: string) => `BUNDLE#${bundleId}`;
const driftPk = (app: string) => `DRIFT#${app}`;
const campaignPk = (id: string) => `CAMPAIGN#${id}`;
const campaignItemSk = (itemId: string) => `ITEM#${itemId}`;
const reviewMessageSk = (reviewer: string) => `MESSAGE#${reviewer}`;
const CAMPAIGNS_PK = 'CAMPAIGNS';
/** Heads per item of an anchor's heads (about 110 bytes each: well within DynamoDB's 400 KB). */
const ANCHOR_HEADS_PER_ITEM = 2_000;

function stripKeys(item: Record<string, unknown>): Record<string, unknown> {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest;
}
const bundleMessageSk = (approver: string) => `MESSAGE#${approver}`;

/** An approver's one approval message of a bundle: the items it asks (`grantId:step`), and the message once posted. */
export interface BundleMessage {
  bundleId: string;
  approver: string;
  items: string[];
  channel?: string;
  ts?: string;
}

function bundleMessageOf(bundleId: string, approver: string, item: Record<string, unknown>): BundleMessage {
  const items = item.items instanceof Set ? [...(item.items as Set<string>)] : Array.isArray(item.items) ? (item.items as string[]) : [];
  return {
    bundleId,
    approver,
    items: items.sort(),
    ...(typeof item.channel === 'string' ? { channel: item.channel } : {}),
    ...(typeof item.ts === 'string' ? { ts: item.ts } : {}),
  };
}
const membershipPk = (key: MembershipKey) => `MEMBERSHIP#${key.provider}#${key.groupId}#${key.userId}`;
const approvalSk = (step: number) => `APPROVAL#${String(step).padStart(2, '0')}`;
/** Attempts at appending one quorum approval; each failure means another approval (or the close) was written meanwhile. */
const QUORUM_WRITE_ATTEMPTS = 25;
const activeKey = (provider: string, groupId: string, email: string) => `ACTIVE#${provider}#${groupId}#${email.toLowerCase()}`;

/** A grant's item as the table holds it: its keys and its index keys (the bench writes these in batches). */
export function grantItem(grant: Grant): Record<string, unknown> {
  return { pk: grantPk(grant.id), sk: 'GRANT', ...grant, ...grantIndexKeys(grant) };
}

/** An evidence event's item as the table holds it. */
export function evidenceItem(event: EvidenceEvent): Record<string, unknown> {
  return { pk: grantPk(event.grantId), sk: `EVENT#${event.key}`, ...event };
}

/** A grant's chain head item as the table holds it (not its listing under the day). */
export function chainHeadItem(head: ChainHead): Record<string, unknown> {
  return { pk: grantPk(head.grantId), sk: 'CHAIN', ...head };
}

/** The app a cross-app cursor (grantsRequestedPage) names; undefined when it is not one. */
function cursorApp(cursor: string): string | undefined {
  try {
    const app: unknown = (JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { app?: unknown }).app;
    return typeof app === 'string' ? app : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a cross-app cursor carries a Query key (else it starts its app from the beginning). */
function cursorHasKey(cursor: string): boolean {
  try {
    return 'pk' in (JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as object);
  } catch {
    return false;
  }
}

function grantIndexKeys(grant: Grant): Partial<Record<(typeof INDEX_ATTRS)[number], string>> {
  const keys: Partial<Record<(typeof INDEX_ATTRS)[number], string>> = {
    gsi1pk: `USER#${grant.subject}`,
    gsi1sk: `${grant.requestedAt}#${grant.id}`,
    gsi2pk: `APP#${grant.app}`,
    gsi2sk: `${grant.requestedAt}#${grant.id}`,
  };
  if (grant.status === 'active' && grant.provider && grant.groupId) {
    keys.gsi3pk = activeKey(grant.provider, grant.groupId, grant.subject);
    keys.gsi3sk = grant.id;
  }
  if (grant.status === 'active' && grant.expiresAt) {
    keys.gsi4pk = 'EXPIRES';
    keys.gsi4sk = `${grant.expiresAt}#${grant.id}`;
  }
  return keys;
}

function strip(item: Record<string, unknown>): Record<string, unknown> {
  const { pk: _pk, sk: _sk, ...rest } = item;
  for (const attr of INDEX_ATTRS) delete rest[attr];
  return rest;
}

function stripGrant(item: Record<string, unknown>): Grant {
  return strip(item) as unknown as Grant;
}

// Events written in the same millisecond keep the lifecycle's order.
const TYPE_ORDER = [
  'requested',
  'auto_approved',
  'approval_requested',
  'approval_refused',
  'approved',
  'denied',
  'approval_expired',
  'provisioned',
  'manual_task',
  'provisioning_failed',
  'revocation_scheduled',
  'revocation_kept_membership',
  'revoked',
  'manual_removal_task',
];
/** Event keys start with their type (`approved#0`): same-millisecond events sort in lifecycle order. */
function lifecycleOrder(key: string): number {
  return TYPE_ORDER.indexOf(key.split('#')[0]!);
}
