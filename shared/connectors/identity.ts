/**
 * The identity providers configured for this deployment, each behind the process's shared rate
 * limits. Imported only by functions that change access (and the local runtime): the webhook
 * functions never load an identity-provider SDK.
 */
import { readFileSync } from 'node:fs';
import { auth } from '@googleapis/admin';
import type { EndDateSources } from '../catalog/schema.js';
import type { Config } from '../config.js';
import type { IdentityProvider, ProviderName } from '../ports.js';
import { RateLimits, rateLimited } from '../rate-limit.js';
import { EntraIdentityProvider } from './entra.js';
import { GoogleIdentityProvider } from './google.js';
import { OktaIdentityProvider } from './okta.js';

/**
 * Called once per process: every provider goes through `limits` (one bucket per provider and family;
 * the runtimes pass limits kept in the table, so they hold across processes). `endDates` (the
 * catalog's) says where each provider keeps a person's end date: the user lookups read it.
 */
export function identityProviders(
  config: Config,
  limits: RateLimits = RateLimits.fromEnv(config.GRANTLINE_RATE_LIMITS),
  endDates: EndDateSources = {},
): Partial<Record<ProviderName, IdentityProvider>> {
  const providers: Partial<Record<ProviderName, IdentityProvider>> = {};
  if (config.OKTA_ORG_URL && config.OKTA_API_TOKEN) {
    providers.okta = new OktaIdentityProvider({
      orgUrl: config.OKTA_ORG_URL,
      token: config.OKTA_API_TOKEN,
      ...(endDates.okta ? { endDateAttribute: endDates.okta } : {}),
    });
  }
  if (config.AZURE_TENANT_ID && config.AZURE_CLIENT_ID && config.AZURE_CLIENT_SECRET) {
    providers.entra = new EntraIdentityProvider({
      tenantId: config.AZURE_TENANT_ID,
      clientId: config.AZURE_CLIENT_ID,
      clientSecret: config.AZURE_CLIENT_SECRET,
      ...(config.GRAPH_BASE_URL ? { graphBaseUrl: config.GRAPH_BASE_URL } : {}),
      ...(config.AZURE_AUTHORITY_HOST ? { authorityHost: config.AZURE_AUTHORITY_HOST } : {}),
      ...(config.GRAPH_EXTRA_CA_FILE ? { ca: readFileSync(config.GRAPH_EXTRA_CA_FILE) } : {}),
      ...(endDates.entra ? { readEmployeeLeaveDateTime: true } : {}),
    });
  }
  if (config.GOOGLE_ACCESS_TOKEN || (config.GOOGLE_SERVICE_ACCOUNT_KEY && config.GOOGLE_ADMIN_SUBJECT)) {
    providers.google = new GoogleIdentityProvider({
      ...(config.GOOGLE_ADMIN_ROOT_URL ? { rootUrl: config.GOOGLE_ADMIN_ROOT_URL } : {}),
      ...(config.GOOGLE_ACCESS_TOKEN
        ? { auth: staticToken(config.GOOGLE_ACCESS_TOKEN) }
        : { serviceAccountKey: config.GOOGLE_SERVICE_ACCOUNT_KEY, adminSubject: config.GOOGLE_ADMIN_SUBJECT }),
      ...(endDates.google ? { endDateField: endDates.google } : {}),
    });
  }
  return Object.fromEntries(Object.entries(providers).map(([name, provider]) => [name, rateLimited(provider, limits)]));
}

function staticToken(token: string) {
  const client = new auth.OAuth2();
  client.setCredentials({ access_token: token, expiry_date: Date.now() + 10 * 365 * 24 * 3600 * 1000 });
  return client;
}
