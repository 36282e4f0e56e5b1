/**
 * Jobs in AWS: an asynchronous invoke (InvocationType Event) of the function that does the work.
 * Lambda queues the event, so the caller (a Slack route with 3 s to answer) waits only for the
 * hand-over; Lambda retries a failed run twice and then sends the event to the function's
 * dead-letter queue. A filing job goes to the file-request function; an early release to the revoke
 * function (the schedules' target), with the input its Revoke task takes; an offboarding to the
 * offboard function; a review item's Revoke decided in Slack to the review-campaign function.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ConfigurationError } from '../errors.js';
import type { CampaignRevokeJob, FilingJob, Jobs, OffboardJob, ReleaseJob } from '../ports.js';
import type { RevokeReason } from '../revocation.js';

export interface JobFunctions {
  /** Name or ARN of the file-request function (GRANTLINE_FILE_REQUEST_FUNCTION). */
  fileRequest?: string;
  /** Name or ARN of the revoke function (GRANTLINE_REVOKE_FUNCTION_ARN). */
  revoke?: string;
  /** Name or ARN of the offboard function (GRANTLINE_OFFBOARD_FUNCTION). */
  offboard?: string;
  /** Name or ARN of the review-campaign function (GRANTLINE_REVIEW_CAMPAIGN_FUNCTION). */
  reviewCampaign?: string;
}

export class LambdaJobs implements Jobs {
  private readonly client: LambdaClient;

  constructor(
    private readonly functions: JobFunctions,
    client?: LambdaClient,
  ) {
    this.client = client ?? new LambdaClient({});
  }

  async fileRequest(job: FilingJob): Promise<void> {
    await this.invoke(this.functions.fileRequest, 'GRANTLINE_FILE_REQUEST_FUNCTION', job);
  }

  async release(job: ReleaseJob): Promise<void> {
    const input = { grantId: job.grantId, reason: 'early_release', actor: job.actor } satisfies { grantId: string; reason: RevokeReason; actor: string };
    await this.invoke(this.functions.revoke, 'GRANTLINE_REVOKE_FUNCTION_ARN', input);
  }

  async offboard(job: OffboardJob): Promise<void> {
    await this.invoke(this.functions.offboard, 'GRANTLINE_OFFBOARD_FUNCTION', job);
  }

  async campaignRevoke(job: CampaignRevokeJob): Promise<void> {
    await this.invoke(this.functions.reviewCampaign, 'GRANTLINE_REVIEW_CAMPAIGN_FUNCTION', job);
  }

  private async invoke(functionName: string | undefined, setting: string, payload: unknown): Promise<void> {
    if (!functionName) throw new ConfigurationError(`configuration ${setting} is required here but not set`, setting);
    await this.client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: JSON.stringify(payload) }));
  }
}
