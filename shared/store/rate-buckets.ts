/**
 * The provider rate limits' token buckets, one item per provider and endpoint family, shared by
 * every process that uses the table (all concurrent Lambdas, or the local runtime through dynalite).
 * The algorithm is in shared/rate-limit.ts; this is its storage: a read, an atomic conditional
 * increment (a busy bucket), a conditional restart from full (a quiet one) and a rewrite
 * conditional on the version read (a new rate, a pause).
 *
 * Item (pk / sk): RATE#<provider>.<family> / RATE  { emptyAt, interval, pausedUntil (ms), version }
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { BucketState, BucketStates } from '../rate-limit.js';

export class RateBuckets implements BucketStates {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async read(key: string): Promise<BucketState | undefined> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: ratePk(key), sk: 'RATE' }, ConsistentRead: true }));
    return Item ? toState(Item) : undefined;
  }

  async advance(key: string, by: number, notBefore: number, interval: number): Promise<BucketState | undefined> {
    try {
      const { Attributes } = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: ratePk(key), sk: 'RATE' },
          UpdateExpression: 'SET #e = #e + :by, #v = #v + :one',
          ConditionExpression: '#e >= :notBefore AND #i = :interval',
          ExpressionAttributeNames: { '#e': 'emptyAt', '#i': 'interval', '#v': 'version' },
          ExpressionAttributeValues: { ':by': by, ':notBefore': notBefore, ':interval': interval, ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? toState(Attributes) : undefined;
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  async restart(key: string, emptyAt: number, full: number, interval: number): Promise<BucketState | undefined> {
    try {
      const { Attributes } = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: ratePk(key), sk: 'RATE' },
          UpdateExpression: 'SET #e = :emptyAt, #i = :interval, #p = if_not_exists(#p, :zero), #v = if_not_exists(#v, :zero) + :one',
          ConditionExpression: 'attribute_not_exists(pk) OR (#e < :full AND #i = :interval)',
          ExpressionAttributeNames: { '#e': 'emptyAt', '#i': 'interval', '#p': 'pausedUntil', '#v': 'version' },
          ExpressionAttributeValues: { ':emptyAt': emptyAt, ':full': full, ':interval': interval, ':zero': 0, ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? toState(Attributes) : undefined;
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  async replace(key: string, next: BucketState, read: BucketState | undefined): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: ratePk(key), sk: 'RATE', emptyAt: next.emptyAt, interval: next.interval, pausedUntil: next.pausedUntil, version: next.version },
          ...(read
            ? { ConditionExpression: '#v = :v', ExpressionAttributeNames: { '#v': 'version' }, ExpressionAttributeValues: { ':v': read.version } }
            : { ConditionExpression: 'attribute_not_exists(pk)' }),
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }
}

const ratePk = (key: string) => `RATE#${key}`;

const toState = (item: Record<string, unknown>): BucketState => ({
  emptyAt: Number(item.emptyAt),
  interval: Number(item.interval),
  pausedUntil: Number(item.pausedUntil ?? 0),
  version: Number(item.version ?? 0),
});

const isConditionFailure = (err: unknown) => err instanceof ConditionalCheckFailedException || (err as Error).name === 'ConditionalCheckFailedException';
