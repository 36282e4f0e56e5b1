/**
 * Receipts of commands given in Slack (a submitted `/access` form, an "I'm done" click), so a command
 * that arrives twice (replayed within the 5-minute signature window) or a job that runs twice files
 * one Jira issue and one grant, or releases once.
 *
 * Item (pk / sk): COMMAND#<key> / COMMAND  { receivedAt, job?, issueKey?, released?, gsi4pk?, gsi4sk?, expiresAtEpoch }
 *   written with attribute_not_exists when the submission is accepted, before the filing job is
 *   handed over; issueKey is added once the issue exists, so a re-run of the job goes on from there
 *   instead of filing a second issue. Until the job has finished, the receipt holds the job and is
 *   listed in the `due` index under FILINGS (unfinished()), so a restarted local runtime hands it
 *   over again, as Lambda's queue would. DynamoDB's time to live removes a
 *   receipt a day after the command (Slack refuses a replay after 5 minutes): receipts are the only
 *   items that carry `expiresAtEpoch`, so nothing of the ledger ever expires.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { FilingJob, OffboardJob, ReleaseJob } from '../ports.js';

/** The work a command hands over: a filing (it carries its receipt key), an early release, or an offboarding (a Jira issue's). */
export type CommandJob = FilingJob | ReleaseJob | OffboardJob;
export const isFilingJob = (job: CommandJob): job is FilingJob => 'receiptKey' in job;
export const isOffboardJob = (job: CommandJob): job is OffboardJob => 'offboard' in job;

export type CommandClaim = { status: 'new' } | { status: 'seen'; issueKey?: string };

export class CommandReceipts {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Records the command's key (and the job it hands over, listed as unfinished until finish()):
   * 'new' for the first arrival, else what the earlier one filed (if it got that far).
   */
  async claim(key: string, receivedAt: string, job?: CommandJob): Promise<CommandClaim> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: commandPk(key),
            sk: 'COMMAND',
            key,
            receivedAt,
            ...(job ? { job, gsi4pk: UNFINISHED, gsi4sk: `${receivedAt}#${key}` } : {}),
            [EXPIRY_ATTRIBUTE]: Math.floor(Date.parse(receivedAt) / 1000) + RECEIPT_KEPT_S,
          },
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
        UpdateExpression: 'SET released = :true REMOVE gsi4pk, gsi4sk',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(issueKey)',
        ExpressionAttributeValues: { ':true': true },
      }),
    );
  }

  /** The job ran to its end (filed, or the person told why not; released): no longer listed as unfinished. */
  async finish(key: string): Promise<void> {
    await this.doc.send(new UpdateCommand({ TableName: this.table, Key: { pk: commandPk(key), sk: 'COMMAND' }, UpdateExpression: 'REMOVE gsi4pk, gsi4sk' }));
  }

  /** Jobs handed over and not finished (oldest first): a process that ran them stopped. */
  async unfinished(): Promise<CommandJob[]> {
    const jobs: CommandJob[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'due',
          KeyConditionExpression: 'gsi4pk = :pk',
          ExpressionAttributeValues: { ':pk': UNFINISHED },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) if (item.job) jobs.push(item.job as CommandJob);
      start = page.LastEvaluatedKey;
    } while (start);
    return jobs;
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
/** The `due` index partition of unfinished filings (schedules use SCHEDULES). */
const UNFINISHED = 'FILINGS';

/** A day: far beyond Slack's 5-minute replay window and any retry of the command. */
const RECEIPT_KEPT_S = 24 * 60 * 60;

/** The table's time-to-live attribute (infra/cdk/data.ts): only command receipts have it. */
export const EXPIRY_ATTRIBUTE = 'expiresAtEpoch';
