/**
 * The catalog as code: which apps and roles may be requested, how each is approved, which
 * identity-provider group grants it and for how long. One zod schema is the source of truth; its
 * JSON Schema is published by `grantline catalog schema`.
 */
import * as z from 'zod';
import { isDuration } from '../duration.js';

const email = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email({ message: 'must be an email address' }));
const duration = z.string().refine(isDuration, { message: 'must be an ISO-8601 duration such as PT1H, PT24H or P30D, or "permanent"' });

function isRegExp(text: string): boolean {
  return regExpError(text) === undefined;
}

function regExpError(text: string): string | undefined {
  try {
    new RegExp(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** App and role keys. At most 64 characters: a key is a Slack option value (at most 150) and part of a form's block id (255). */
const KEY = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** zod reports a bad record key as "Invalid key in record": say what a key must be instead. */
const keyError = (what: string) => (issue: { code?: string }) =>
  issue.code === 'invalid_key' ? `${what} keys are 1 to 64 lower-case letters, digits, - and _` : undefined;

export const riskTiers = ['low', 'medium', 'high', 'critical'] as const;
export const providers = ['okta', 'entra', 'google'] as const;

const QUORUM_ERROR = 'quorum must be a whole number of approvers, 1 or more';
const QUORUM_NOT_GROUP = 'quorum applies only to an approver group step: {group: name, quorum: N}';
const hasKey = (input: unknown, key: string) => !!input && typeof input === 'object' && key in input;

const approvalStep = z.union(
  [
    z.enum(['auto', 'manager', 'app_owner']),
    z.strictObject(
      { user: z.union([email, z.array(email).min(1)]) },
      { error: (issue) => (issue.code === 'unrecognized_keys' && issue.keys.includes('quorum') ? QUORUM_NOT_GROUP : undefined) },
    ),
    z.strictObject({
      group: z.string().min(1),
      /** How many distinct members of the group must approve (default 1); a deny by any one of them ends the request. */
      quorum: z
        .int({ error: QUORUM_ERROR })
        .min(1, { error: QUORUM_ERROR })
        .optional()
        .describe('How many distinct members of the group must approve (default 1); a deny by any one of them ends the request'),
    }),
  ],
  {
    error: (issue) =>
      hasKey(issue.input, 'quorum')
        ? hasKey(issue.input, 'group')
          ? QUORUM_ERROR
          : QUORUM_NOT_GROUP
        : 'unknown approver kind: use auto, manager, app_owner, {user: email or [emails]} or {group: name}',
  },
);

const slackChannel = z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'must be a Slack channel id such as C0123ABCD (channel details → About → Channel ID)');

/** Who an unanswered step is escalated to: one person, or the members of an approver group. */
const escalationTarget = z.union([email, z.strictObject({ group: z.string().min(1) })], {
  error: 'escalateTo must be an email address or {group: name} of an approver group',
});

/**
 * Reminders and escalation of a step nobody has decided, counted from when the step is asked:
 * remindAfter DMs the approvers who have not decided; escalateAfter adds escalateTo as approvers of
 * the step. Both come before the approvalTimeout that denies. Set in defaults:, overridden per role.
 */
const approvalTimers = {
  remindAfter: duration.optional().describe('After this long without a decision, the approvers who have not decided are reminded in Slack'),
  escalateAfter: duration.optional().describe('After this long without a decision, escalateTo is added as approvers of the step'),
  escalateTo: escalationTarget.optional().describe('An email or {group: name}: added as approvers of a step unanswered after escalateAfter'),
};

export const roleSchema = z.strictObject({
  description: z.string().optional(),
  /** Group id in the app's provider, or "manual" when no group grants the role. */
  group: z.string({ error: 'missing group: give the identity-provider group id, or "manual"' }).min(1),
  provider: z.enum(providers).optional(),
  risk: z.enum(riskTiers),
  approval: z.array(approvalStep).min(1, { error: 'approval needs at least one step' }),
  durations: z.array(duration).min(1),
  maxDuration: duration,
  /** How far from its start extensions may take a grant (default: maxDuration). */
  maxTotal: duration.optional().describe('How far from its start extensions may take a grant (default: maxDuration)'),
  approvalTimeout: duration.optional(),
  ...approvalTimers,
  /** A Slack channel id (C… or G…): approval requests are posted there with the buttons; an approver group's members are not DMed. */
  approvalChannel: slackChannel.optional(),
  endSessions: z
    .boolean()
    .optional()
    .describe("When the access ends (expiry, release, review, offboarding), the person's sessions at the identity provider are ended too"),
  /**
   * Break-glass (shared/break-glass.ts): a request that says so, with an incident reference and a
   * reason, is approved by its requester and starts at once; the role's approver group reviews it after the fact.
   */
  breakGlass: z
    .boolean()
    .optional()
    .describe(
      'The requester may approve their own request with an incident reference and a reason; the approver group reviews it after the fact (see the top-level breakGlass)',
    ),
});

export const appSchema = z.strictObject({
  name: z.string().min(1),
  owner: email,
  provider: z.enum(providers).optional(),
  driftFix: z
    .boolean()
    .optional()
    .describe('The daily drift report removes members of the mapped groups who hold no active Grantline grant (access given outside Grantline)'),
  roles: z.record(z.string().regex(KEY), roleSchema, { error: keyError('role') }),
});

/**
 * Where a person's end date (a contractor's last day) is kept, per identity provider. Each is
 * optional: a provider without one has no end dates read. Entra's property is fixed by Graph; it is
 * read only when named here, because reading it needs one more application permission
 * (User-LifeCycleInfo.Read.All).
 */
export const endDatesSchema = z.strictObject({
  /** An Okta user profile attribute (its variable name in the Profile Editor), e.g. endDate. */
  okta: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]{0,99}$/, 'must be the variable name of an Okta profile attribute, e.g. endDate (letters, digits and _)')
    .optional(),
  entra: z
    .literal('employeeLeaveDateTime', { error: 'Microsoft Entra ID keeps the end date in employeeLeaveDateTime: write entra: employeeLeaveDateTime' })
    .optional(),
  /** <custom schema>.<field> of a Google Workspace custom user field, e.g. HR.endDate (a DATE field). */
  google: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]*\.[A-Za-z][A-Za-z0-9_]*$/, 'must be <custom schema>.<field>, e.g. HR.endDate')
    .optional(),
});

/** The catalog's default break-glass incident reference: a ticket key such as INC-123 or OPS-42. */
export const DEFAULT_REFERENCE_PATTERN = '^[A-Z][A-Z0-9]+-\\d+$';

/**
 * How break-glass works for every role that allows it (`breakGlass: true`): what an incident
 * reference must look like, which Slack channel hears of each use, and the review after the fact.
 */
export const breakGlassSchema = z.strictObject({
  referencePattern: z
    .string()
    .min(1)
    .refine(isRegExp, { error: (issue) => `is not a regular expression: ${regExpError(String(issue.input))}` })
    .default(DEFAULT_REFERENCE_PATTERN)
    .describe('A regular expression the incident reference must match, e.g. ^INC-\\d+$ (anchor it with ^ and $)'),
  notifyChannel: slackChannel.optional().describe('A Slack channel id: every break-glass use is posted there, with the Reviewed button'),
  reviewWithin: duration.default('PT24H').describe('How long the approver group has to confirm a break-glass use after it was approved (at most P14D)'),
  onUnreviewed: z
    .enum(['flag', 'revoke'], { error: 'onUnreviewed must be flag (flagged on the issue and in the audit) or revoke (flagged, and the access revoked)' })
    .default('flag')
    .describe('What happens when nobody confirms in time: flag it on the issue and in the audit, or flag it and revoke the access'),
});

/** The most items a bundle may have: each is a line of one Slack message, whose 50 blocks must hold them all. */
export const MAX_BUNDLE_ITEMS = 20;

const bundleItem = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}\/[a-z0-9][a-z0-9_-]{0,63}$/, 'must be app/role as the catalog keys them, e.g. figma/viewer');
// How many items a bundle may have is checked with the catalog's rules (shared/catalog/catalog.ts): inside this union zod would only say "Invalid input".
const bundleItems = z.array(bundleItem);

/**
 * An onboarding bundle (shared/bundles.ts): one request naming it becomes one grant per item, each
 * under its own role's policy. Either the list of app/role items, or with a display name and a
 * duration for the items when the request gives none.
 */
export const bundleSchema = z.union([
  bundleItems,
  z.strictObject({
    name: z.string().min(1).optional(),
    description: z.string().optional(),
    duration: duration.optional().describe("Each item's duration when the request gives none (default: the item role's first listed duration)"),
    items: bundleItems,
  }),
]);

export const catalogSchema = z.strictObject({
  version: z.literal(1),
  defaults: z
    .strictObject({
      provider: z.enum(providers).default('okta'),
      approvalTimeout: duration.default('PT24H'),
      ...approvalTimers,
    })
    .prefault({}),
  approverGroups: z.record(z.string(), z.array(email).min(1)).default({}),
  /** Fallback manager for people the identity provider has no manager for. */
  managers: z.record(email, email).default({}),
  /** Where each identity provider keeps a person's end date; it caps the expiry of every grant to them (shared/end-dates.ts). */
  endDates: endDatesSchema.default({}),
  /** Break-glass settings for the roles with `breakGlass: true` (shared/break-glass.ts). */
  breakGlass: breakGlassSchema.prefault({}),
  apps: z.record(z.string().regex(KEY), appSchema, { error: keyError('app') }),
  /** Onboarding bundles by key, e.g. engineering-new-hire: [notion/member, figma/viewer]. */
  bundles: z.record(z.string().regex(KEY), bundleSchema, { error: keyError('bundle') }).default({}),
});

export type CatalogInput = z.input<typeof catalogSchema>;
export type Catalog = z.output<typeof catalogSchema>;
export type AppEntry = z.output<typeof appSchema>;
export type RoleEntry = z.output<typeof roleSchema>;
export type EndDateSources = z.output<typeof endDatesSchema>;
export type BreakGlassSettings = z.output<typeof breakGlassSchema>;
export type EscalationTarget = z.output<typeof escalationTarget>;
export type ApprovalStepSpec = z.output<typeof approvalStep>;
export type BundleEntry = z.output<typeof bundleSchema>;
export type RiskTier = (typeof riskTiers)[number];

export function catalogJsonSchema(): unknown {
  return z.toJSONSchema(catalogSchema, { io: 'input' });
}
