/**
 * Receipts of Slack `/access` commands, so a command that arrives twice (replayed within the
 * 5-minute signature window, or retried) files one Jira issue and one grant.
 *
 * Item (pk / sk): COMMAND#<key> / COMMAND  { receivedAt, issueKey?, expiresAtEpoch }
 *   written with attribute_not_exists before the Jira issue is created; issueKey is added once
 *   the issue exists. A receipt without issueKey means an earlier attempt stopped (or is still
 *   working) between the two: it is never filed a second time. DynamoDB's time to live removes a
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
          ConditionExpression: 'attribute_not_exists(pk)',
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
