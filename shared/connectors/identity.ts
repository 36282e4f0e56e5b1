/** The identity providers configured for this deployment; imported only by functions that change access. */
import type { Config } from '../config.js';
import { OktaIdentityProvider } from './okta.js';
import type { IdentityProvider, ProviderName } from '../ports.js';

export function identityProviders(config: Config): Partial<Record<ProviderName, IdentityProvider>> {
  const providers: Partial<Record<ProviderName, IdentityProvider>> = {};
  if (config.OKTA_ORG_URL && config.OKTA_API_TOKEN) {
    providers.okta = new OktaIdentityProvider({ orgUrl: config.OKTA_ORG_URL, token: config.OKTA_API_TOKEN });
  }
  return providers;
}
