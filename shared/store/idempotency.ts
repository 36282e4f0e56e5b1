/**
 * Receipts of requests submitted in Slack (the `/access` form), so a submission that arrives twice
 * (replayed within the 5-minute signature window) or a filing job that runs twice files one Jira
 * issue and one grant.
 *
 * Item (pk / sk): COMMAND#<key> / COMMAND  { receivedAt, issueKey?, released?, expiresAtEpoch }
 *   written with attribute_not_exists when the submission is accepted, before the filing job is
 *   handed over; issueKey is added once the issue exists, so a re-run of the job goes on from there
 *   instead of filing a second issue. DynamoDB's time to live removes a
 *   receipt a day after the command (Slack refuses a replay after 5 minutes): receipts are the only
 *   items that carry `expiresAtEpoch`, so nothing of the ledger ever expires.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export type CommandClaim = { status: 'new' } | { status: 'seen'; issueKey?: string };

export class CommandReceipts {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Records the command's key: 'new' for the first arrival, else what the earlier one filed (if it got that far). */
  async claim(key: string, receivedAt: string): Promise<CommandClaim> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: commandPk(key), sk: 'COMMAND', key, receivedAt, [EXPIRY_ATTRIBUTE]: Math.floor(Date.parse(receivedAt) / 1000) + RECEIPT_KEPT_S },
          // A released claim (its work was never handed over) may be claimed again.
          ConditionExpression: 'attribute_not_exists(pk) OR released = :true',
          ExpressionAttributeValues: { ':true': true },
        }),
      );
      return { status: 'new' };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException) && (err as Error).name !== 'ConditionalCheckFailedException') throw err;
    }
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: commandPk(key), sk: 'COMMAND' }, ConsistentRead: true }));
    const issueKey = Item?.issueKey;
    return typeof issueKey === 'string' ? { status: 'seen', issueKey } : { status: 'seen' };
  }

  /** The receipt, read consistently: what the filing did so far. */
  async get(key: string): Promise<{ receivedAt: string; issueKey?: string } | undefined> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: commandPk(key), sk: 'COMMAND' }, ConsistentRead: true }));
    if (!Item) return undefined;
    return typeof Item.issueKey === 'string' ? { receivedAt: String(Item.receivedAt), issueKey: Item.issueKey } : { receivedAt: String(Item.receivedAt) };
  }

  /**
   * Takes back a claim whose work could not be handed over (nothing was filed), so the same submission
   * can be claimed again. Marked, not deleted: no Grantline role may delete items of the table.
   */
  async release(key: string): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: commandPk(key), sk: 'COMMAND' },
        UpdateExpression: 'SET released = :true',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(issueKey)',
        ExpressionAttributeValues: { ':true': true },
      }),
    );
  }

  /** The outcome of the command: the Jira issue it filed. */
  async recordIssue(key: string, issueKey: string): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: commandPk(key), sk: 'COMMAND' },
        UpdateExpression: 'SET issueKey = :issueKey',
        ExpressionAttributeValues: { ':issueKey': issueKey },
      }),
    );
  }
}

const commandPk = (key: string) => `COMMAND#${key}`;

/** A day: far beyond Slack's 5-minute replay window and any retry of the command. */
const RECEIPT_KEPT_S = 24 * 60 * 60;

/** The table's time-to-live attribute (infra/cdk/data.ts): only command receipts have it. */
export const EXPIRY_ATTRIBUTE = 'expiresAtEpoch';
