/**
 * The stateful part: the ledger table and the revocation schedule group. Created once and handed to
 * the stateless part (functions, API, state machine) as properties. The table keeps the evidence
 * auditors rely on, so it is retained when the stack is deleted and cannot be deleted by accident.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table } from 'aws-cdk-lib/aws-dynamodb';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { EXPIRY_ATTRIBUTE } from '../../shared/store/idempotency.js';
import { INDEXES } from '../../shared/store/table.js';

export interface GrantlineDataProps {
  /** Name of the schedule group (1-64 of [0-9a-zA-Z-_.]); the functions receive it as GRANTLINE_SCHEDULE_GROUP. */
  scheduleGroupName: string;
}

export class GrantlineData extends Construct {
  readonly table: Table;
  readonly scheduleGroup: ScheduleGroup;

  constructor(scope: Construct, id: string, props: GrantlineDataProps) {
    super(scope, id);
    // Same keys and indexes as the local runtime creates (shared/store/table.ts ensureTable).
    this.table = new Table(this, 'Ledger', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      // Only Slack command receipts carry it (shared/store/idempotency.ts): evidence and grants never expire.
      timeToLiveAttribute: EXPIRY_ATTRIBUTE,
      // RETAIN, not RETAIN_ON_UPDATE_OR_DELETE: deletion protection would refuse the DeleteTable of a
      // rolled-back first deployment and leave the stack in ROLLBACK_FAILED. The ledger keeps both guards.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of INDEXES) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.pk, type: AttributeType.STRING },
        sortKey: { name: index.sk, type: AttributeType.STRING },
      });
    }
    this.scheduleGroup = new ScheduleGroup(this, 'Revocations', {
      scheduleGroupName: props.scheduleGroupName,
      // Deleting the stack deletes the group and its pending schedules (docs/deploy.md: end active grants
      // first). Retaining it would not help: its schedules would target a function and a role that are gone,
      // and the fixed name would block the next deployment.
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
