/**
 * SigV4 signing for the CLI's calls to a deployed Grantline. In AWS every audit/review route is
 * IAM-authenticated at API Gateway (HTTP API, service `execute-api`): a request is signed with the
 * caller's AWS credentials (the SDK's default provider chain: environment, profile/SSO, web identity,
 * container or instance role) for the API's region. The SDK pieces are imported on first use, so
 * local use (the bearer token) never loads them.
 */
import type { SignatureV4 } from '@smithy/signature-v4';

/** The value of `--aws [region]`: a region, `true` for `--aws` alone, undefined when not given. */
export type AwsOption = string | boolean | undefined;

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
/** `<api-id>.execute-api.<region>.amazonaws.com` (and the VPC endpoint and China forms). */
const EXECUTE_API_HOST = /\.execute-api\.([a-z0-9-]+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$/;

/** Whether requests are signed: `--aws` given, or GRANTLINE_AWS_REGION set. */
export function awsSigning(aws: AwsOption, env: NodeJS.ProcessEnv = process.env): boolean {
  return (aws !== undefined && aws !== false) || Boolean(env.GRANTLINE_AWS_REGION);
}

/**
 * The region to sign for: `--aws <region>`, else GRANTLINE_AWS_REGION, else AWS_REGION, else the
 * region in an `*.execute-api.<region>.amazonaws.com` URL; an error saying what to give otherwise.
 */
export function signingRegion(aws: AwsOption, url: string | URL, env: NodeJS.ProcessEnv = process.env): string {
  const given: Array<[string, string | undefined]> = [
    ['--aws', typeof aws === 'string' ? aws : undefined],
    ['GRANTLINE_AWS_REGION', env.GRANTLINE_AWS_REGION],
    ['AWS_REGION', env.AWS_REGION],
  ];
  for (const [source, value] of given) {
    const region = value?.trim();
    if (!region) continue;
    if (!REGION.test(region))
      throw new Error(
        source === '--aws'
          ? `--aws takes an AWS region such as eu-west-1, not "${region}": give the region, write --aws=<region>, or put --aws after the command's arguments`
          : `${source} is "${region}", not an AWS region such as eu-west-1`,
      );
    return region;
  }
  const fromUrl = EXECUTE_API_HOST.exec(new URL(url).hostname)?.[1];
  if (fromUrl) return fromUrl;
  throw new Error(
    "no AWS region to sign the request for: give --aws <region> (or set GRANTLINE_AWS_REGION or AWS_REGION), or use the API's https://<api-id>.execute-api.<region>.amazonaws.com URL",
  );
}

/** What fetch is given: the method, the headers and the body (a string, sent exactly as signed). */
export interface RequestToSign {
  method: string;
  headers: Record<string, string>;
  body?: string;
}

const signers = new Map<string, Promise<SignatureV4>>();

/** One signer per region for the process; the credential chain is resolved once and refreshed when it expires. */
function signerFor(region: string): Promise<SignatureV4> {
  let signer = signers.get(region);
  if (!signer) {
    signer = (async () => {
      const [{ SignatureV4 }, { defaultProvider }, { Sha256 }] = await Promise.all([
        import('@smithy/signature-v4'),
        import('@aws-sdk/credential-provider-node'),
        import('@smithy/core/checksum'),
      ]);
      const credentials = defaultProvider();
      return new SignatureV4({
        service: 'execute-api',
        region,
        sha256: Sha256,
        credentials: async () => {
          try {
            return await credentials();
          } catch (err) {
            throw new Error(
              `no AWS credentials to sign the request with (${err instanceof Error ? err.message : String(err)}): set AWS_PROFILE, run \`aws sso login\`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
            );
          }
        },
      });
    })();
    signers.set(region, signer);
  }
  return signer;
}

/**
 * The request signed for `execute-api` in `region`: method, path, query, the host header, the other
 * headers given and the body (its SHA-256 in x-amz-content-sha256). The answer's headers are the ones to
 * send, all signed but `authorization` itself; `host` is left out, as fetch sends the same from the URL.
 */
export async function signRequest(url: string | URL, req: RequestToSign, region: string): Promise<RequestToSign> {
  const u = new URL(url);
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of u.searchParams) {
    const seen = query[key];
    query[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) if (name.toLowerCase() !== 'authorization') headers[name.toLowerCase()] = value;
  headers.host = u.host;
  const signer = await signerFor(region);
  const signed = await signer.sign({
    method: req.method,
    protocol: u.protocol,
    hostname: u.hostname,
    ...(u.port ? { port: Number(u.port) } : {}),
    path: u.pathname,
    query,
    headers,
    ...(req.body === undefined ? {} : { body: req.body }),
  });
  const send: Record<string, string> = { ...signed.headers };
  delete send.host;
  return { method: req.method, headers: send, ...(req.body === undefined ? {} : { body: req.body }) };
}

/** fetch, the request signed with SigV4 for `execute-api` in `region` (see signRequest). */
export async function fetchSigned(url: string, req: RequestToSign, region: string): Promise<Response> {
  return fetch(url, await signRequest(url, req, region));
}
