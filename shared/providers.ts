/** The identity-provider registry: the core asks for a provider by name; only configured ones exist. */
import { PermanentError } from './errors.js';
import type { IdentityProvider, ProviderName } from './ports.js';

export function providerRegistry(providers: Partial<Record<ProviderName, IdentityProvider>>): (name: ProviderName) => IdentityProvider {
  return (name) => {
    const provider = providers[name];
    if (!provider) throw new PermanentError(`identity provider ${name} is not configured in this deployment`);
    return provider;
  };
}
