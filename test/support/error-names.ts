/**
 * Error names in the ASL's Retry/Catch that AWS reports, not Grantline: Step Functions' own
 * (States.*), the Lambda service's and runtime's (Lambda.*, Sandbox.Timedout), and the AWS SDK's
 * (DynamoDB throttling: *Exception, RequestLimitExceeded), which the bundles leave to the runtime.
 * Every other name must be a class exported by shared/errors.ts, spelled as a literal in the bundle.
 */
export function isAwsErrorName(name: string): boolean {
  return /^(States|Lambda|Sandbox)\./.test(name) || /Exception$/.test(name) || name === 'RequestLimitExceeded';
}
