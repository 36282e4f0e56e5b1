/** The identity providers configured for this deployment; imported only by functions that change access. */
import type { Config } from '../config.js';
import { OktaIdentityProvider } from './okta.js';
import type { IdentityProvider, ProviderName } from '../ports.js';
import { RateLimits, rateLimited } from '../rate-limit.js';

/** Called once per process: every provider shares the process's rate limits (one bucket per provider and family). */
export function identityProviders(config: Config): Partial<Record<ProviderName, IdentityProvider>> {
  const limits = RateLimits.fromEnv(config.GRANTLINE_RATE_LIMITS);
  const providers: Partial<Record<ProviderName, IdentityProvider>> = {};
  if (config.OKTA_ORG_URL && config.OKTA_API_TOKEN) {
    providers.okta = rateLimited(new OktaIdentityProvider({ orgUrl: config.OKTA_ORG_URL, token: config.OKTA_API_TOKEN }), limits);
  }
  return providers;
}
