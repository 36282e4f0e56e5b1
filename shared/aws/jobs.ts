/**
 * Jobs in AWS: an asynchronous invoke (InvocationType Event) of the function that does the work.
 * Lambda queues the event, so the caller (a Slack route with 3 s to answer) waits only for the
 * hand-over; Lambda retries a failed run twice and then sends the event to the function's
 * dead-letter queue.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { FilingJob, Jobs } from '../ports.js';

export class LambdaJobs implements Jobs {
  private readonly client: LambdaClient;

  constructor(
    private readonly fileRequestFunction: string,
    client?: LambdaClient,
  ) {
    this.client = client ?? new LambdaClient({});
  }

  async fileRequest(job: FilingJob): Promise<void> {
    await this.client.send(new InvokeCommand({ FunctionName: this.fileRequestFunction, InvocationType: 'Event', Payload: JSON.stringify(job) }));
  }
}
