/**
 * EventBridge Scheduler: one one-time `at()` schedule per time-bound grant, named after the grant,
 * flexible window off, deleted after it fires; the target is the revoke function with a retry
 * policy and a dead-letter queue.
 */
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { scheduleNameFor } from '../grants/model.js';
import type { RevocationScheduler } from '../ports.js';

/** `at(yyyy-mm-ddThh:mm:ss)` in UTC, as the Scheduler expects (no milliseconds, no zone suffix). */
export function atExpression(at: Date): string {
  return `at(${at.toISOString().slice(0, 19)})`;
}

export interface EventBridgeSchedulerOptions {
  client?: SchedulerClient;
  groupName: string;
  targetArn: string;
  roleArn: string;
  deadLetterArn?: string;
}

export class EventBridgeRevocationScheduler implements RevocationScheduler {
  private readonly client: SchedulerClient;

  constructor(private readonly options: EventBridgeSchedulerOptions) {
    this.client = options.client ?? new SchedulerClient({});
  }

  async schedule(grantId: string, at: Date): Promise<'created' | 'exists'> {
    try {
      await this.client.send(new CreateScheduleCommand(this.definition(grantId, at)));
      return 'created';
    } catch (err) {
      if (err instanceof ConflictException || (err as Error).name === 'ConflictException') return 'exists';
      throw err;
    }
  }

  /** UpdateSchedule replaces the whole definition: the same one as created, at the new time. */
  async reschedule(grantId: string, at: Date): Promise<void> {
    try {
      await this.client.send(new UpdateScheduleCommand(this.definition(grantId, at)));
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException) && (err as Error).name !== 'ResourceNotFoundException') throw err;
      await this.schedule(grantId, at);
    }
  }

  private definition(grantId: string, at: Date) {
    return {
      Name: scheduleNameFor(grantId),
      GroupName: this.options.groupName,
      ScheduleExpression: atExpression(at),
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' as const },
      ActionAfterCompletion: 'DELETE' as const,
      Target: {
        Arn: this.options.targetArn,
        RoleArn: this.options.roleArn,
        Input: JSON.stringify({ grantId, reason: 'expired', expiry: at.toISOString() }),
        RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
        ...(this.options.deadLetterArn ? { DeadLetterConfig: { Arn: this.options.deadLetterArn } } : {}),
      },
    };
  }

  async cancel(grantId: string): Promise<void> {
    try {
      await this.client.send(new DeleteScheduleCommand({ Name: scheduleNameFor(grantId), GroupName: this.options.groupName }));
    } catch (err) {
      if (err instanceof ResourceNotFoundException || (err as Error).name === 'ResourceNotFoundException') return;
      throw err;
    }
  }
}
