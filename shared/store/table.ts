/**
 * The one table's shape, shared by the CDK stack and the local runtime so both create the same keys.
 *
 * Items (pk / sk):
 *   GRANT#<id> / GRANT              the grant
 *   GRANT#<id> / EVENT#<key>        an evidence event (append-only)
 *   GRANT#<id> / APPROVAL#<step>    an approval step and its waiting task token
 *   GRANT#<id> / ASSIGN#<step>#<email>  a pending approval assigned to one approver (leaves the approver index when decided)
 *   GRANT#<id> / DELIVERY#<key>     the event's delivery to Jira (pending → posting → commented → delivered)
 *   GRANT#<id> / DELIVERY_LEASE     who is posting the grant's evidence to Jira, until when (one poster per issue)
 *   SCHEDULE#<name> / SCHEDULE      a one-time revocation schedule (local scheduler only)
 *   MEMBERSHIP#<provider>#<group>#<idp user id> / MEMBERSHIP   who needs that membership, whether it pre-existed, a removal in flight
 *   GRANT#<id> / CHAIN              the head of the grant's hash chain (shared/chain.ts): the last sealed slot and its hash
 *   CHAINS#<day> / <grant id>       a chain head that moved on that day (what the day's anchor hashes); CHAINDAYS / <day> lists the days
 *   ANCHORS / <day>#<anchoredAt>    an anchor's root and where its write-once copy is; ANCHOR#<day>#<anchoredAt> / HEADS#<n> its heads
 *   CAMPAIGN#<id> / CAMPAIGN        an access review campaign; / ITEM#<n> its items; / MESSAGE#<reviewer> a reviewer's Slack message
 *   CAMPAIGNS / LISTED#<id>         the campaigns the campaign sweep looks after; / CREATED#<at>#<id> every campaign by start
 *
 * Indexes (all sparse: an item appears only while it carries the index's key):
 *   byPerson  gsi1pk USER#<email> (a user's grants over time) | APPROVER#<email> (pending approvals)
 *   byApp     gsi2pk APP#<app> (grants by app)
 *   active    gsi3pk ACTIVE#<provider>#<group>#<email> (active grants of a user in a group)
 *   due       gsi4pk EXPIRES (active grants by expiry) | SCHEDULES (local schedules by time)
 *             | UNDELIVERED (evidence Jira has not taken yet) | UNDELIVERABLE (evidence Jira refused for good)
 */
import { CreateTableCommand, DescribeTableCommand, ResourceNotFoundException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

export const INDEXES = [
  { name: 'byPerson', pk: 'gsi1pk', sk: 'gsi1sk' },
  { name: 'byApp', pk: 'gsi2pk', sk: 'gsi2sk' },
  { name: 'active', pk: 'gsi3pk', sk: 'gsi3sk' },
  { name: 'due', pk: 'gsi4pk', sk: 'gsi4sk' },
] as const;

export type IndexName = (typeof INDEXES)[number]['name'];

/** Creates the table when it does not exist (local runtime and tests; AWS uses the CDK stack). */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException) && (err as Error).name !== 'ResourceNotFoundException') throw err;
  }
  const attributes = ['pk', 'sk', ...INDEXES.flatMap((i) => [i.pk, i.sk])];
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: attributes.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: INDEXES.map((i) => ({
        IndexName: i.name,
        KeySchema: [
          { AttributeName: i.pk, KeyType: 'HASH' },
          { AttributeName: i.sk, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
    }),
  );
  for (let i = 0; i < 50; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 100));
  }
}
