/**
 * Who takes part in a soak and what they can ask for: the soak catalog's employees and their
 * managers, the roles by how they are approved, and the memberships that exist before Grantline
 * (seeded in the sandbox, and never to be removed by it).
 */
import type { Catalog } from '../../shared/catalog/schema.js';
import type { Sandbox } from '../../infra/local/sandbox/index.js';
import { SANDBOX_PEOPLE } from '../../infra/local/sandbox/index.js';

export const STRANGER = SANDBOX_PEOPLE.intruder;

export interface SoakRole {
  appKey: string;
  appName: string;
  role: string;
  owner: string;
  durations: string[];
  /** Approved by policy alone. */
  auto: boolean;
  /** How many approval steps. */
  steps: number;
  manual: boolean;
  provider?: string;
  groupId?: string;
}

/** One (provider, group, person) membership. */
export interface Membership {
  provider: string;
  groupId: string;
  email: string;
}

export class Population {
  readonly employees: string[];
  readonly roles: SoakRole[];

  constructor(readonly catalog: Catalog) {
    this.employees = Object.keys(catalog.managers).sort();
    this.roles = Object.entries(catalog.apps).flatMap(([appKey, app]) =>
      Object.entries(app.roles).map(([role, entry]) => {
        const provider = entry.group === 'manual' ? undefined : (entry.provider ?? app.provider ?? catalog.defaults.provider);
        return {
          appKey,
          appName: app.name,
          role,
          owner: app.owner,
          durations: entry.durations,
          auto: entry.approval.every((step) => step === 'auto'),
          steps: entry.approval.length,
          manual: entry.group === 'manual',
          ...(provider ? { provider, groupId: entry.group } : {}),
        };
      }),
    );
  }

  managerOf(employee: string): string {
    return this.catalog.managers[employee] ?? SANDBOX_PEOPLE.manager;
  }

  autoRoles(): SoakRole[] {
    return this.roles.filter((r) => r.auto);
  }

  /** Roles someone must approve in Slack, with an identity-provider group. */
  approvedRoles(): SoakRole[] {
    return this.roles.filter((r) => !r.auto && !r.manual);
  }

  manualRoles(): SoakRole[] {
    return this.roles.filter((r) => r.manual);
  }

  /** Roles whose single step is the subject's manager. */
  managerRoles(): SoakRole[] {
    return this.roles.filter((r) => r.steps === 1 && this.catalog.apps[r.appKey]?.roles[r.role]?.approval[0] === 'manager');
  }

  groupRoles(): Array<SoakRole & { provider: string; groupId: string }> {
    return this.roles.filter((r): r is SoakRole & { provider: string; groupId: string } => Boolean(r.provider && r.groupId));
  }
}

/** Adds one pre-existing membership per provider (people the soak's requests will also ask for) and returns them. */
export function seedPreexistingMemberships(sandbox: Sandbox, population: Population): Membership[] {
  const seeded: Membership[] = [];
  const byProvider = new Map<string, SoakRole & { provider: string; groupId: string }>();
  for (const role of population.groupRoles()) if (!byProvider.has(role.provider)) byProvider.set(role.provider, role);
  let i = 0;
  for (const role of byProvider.values()) {
    const email = population.employees[i++ % population.employees.length]!;
    addMembership(sandbox, role.provider, role.groupId, email);
    seeded.push({ provider: role.provider, groupId: role.groupId, email });
  }
  return seeded;
}

function addMembership(sandbox: Sandbox, provider: string, groupId: string, email: string): void {
  if (provider === 'okta') sandbox.okta.addMembership(groupId, email);
  else if (provider === 'entra') sandbox.graph.addMembership(groupId, email);
  else if (provider === 'google') sandbox.google.addMembership(groupId, email);
  else throw new Error(`unknown provider ${provider}`);
}

/** An email as the edge should see it: trimmed and lower-cased. */
export function normalEmail(email: string | undefined): string {
  return (email ?? '').trim().toLowerCase();
}
