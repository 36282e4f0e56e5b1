/** Step Functions as the workflow runtime: execution name = grant id; decisions complete the waiting task. */
import {
  ExecutionAlreadyExists,
  InvalidToken,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import type { WorkflowRuntime } from '../ports.js';

export class StepFunctionsWorkflow implements WorkflowRuntime {
  private readonly client: SFNClient;

  constructor(
    private readonly stateMachineArn: string,
    client?: SFNClient,
  ) {
    this.client = client ?? new SFNClient({});
  }

  async start(grantId: string): Promise<'started' | 'already_started'> {
    try {
      // Same name, same input: a retried webhook finds the first execution instead of starting a second.
      await this.client.send(new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name: grantId, input: JSON.stringify({ grantId }) }));
      return 'started';
    } catch (err) {
      if (err instanceof ExecutionAlreadyExists || (err as Error).name === 'ExecutionAlreadyExists') return 'already_started';
      throw err;
    }
  }

  async completeApproval(taskToken: string, output: { decision: 'approved' | 'denied' }): Promise<'delivered' | 'expired'> {
    try {
      await this.client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
      return 'delivered';
    } catch (err) {
      const name = (err as Error).name;
      if (
        err instanceof TaskTimedOut ||
        err instanceof TaskDoesNotExist ||
        err instanceof InvalidToken ||
        ['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken'].includes(name)
      ) {
        return 'expired';
      }
      throw err;
    }
  }
}
