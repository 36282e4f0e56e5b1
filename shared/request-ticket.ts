/**
 * The Jira issue for a request made outside Jira (Slack): each request field as plain text in the
 * catalog's spelling, so a select list's option is the one `grantline catalog sync --jira` created
 * (the app's display name, the role key, the duration as the catalog writes it). The Jira adapter
 * shapes each value as its field's type takes it.
 */
import { findAppKey, resolveRole } from './catalog/catalog.js';
import type { Catalog } from './catalog/schema.js';
import type { Config } from './config.js';
import { normaliseDuration } from './duration.js';
import type { NewTicket, RequestFields } from './ports.js';

/** Call with a request validateRequest accepted; an app or role the catalog lacks is passed on as typed. */
export function requestTicket(config: Config, catalog: Catalog, request: RequestFields): NewTicket {
  const appKey = findAppKey(catalog, request.app);
  const app = appKey ? catalog.apps[appKey]!.name : request.app.trim();
  const roleKey = request.role.trim().toLowerCase();
  const role = (appKey && resolveRole(catalog, appKey, roleKey)?.roleKey) || roleKey;
  const settings = {
    JIRA_FIELD_SUBJECT: request.subject,
    JIRA_FIELD_APP: app,
    JIRA_FIELD_ROLE: role,
    JIRA_FIELD_DURATION: normaliseDuration(request.duration),
    JIRA_FIELD_JUSTIFICATION: request.justification,
  } as const;
  const fields: Record<string, string> = {};
  const fieldSettings: Record<string, string> = {};
  for (const [setting, value] of Object.entries(settings) as Array<[keyof typeof settings, string]>) {
    fields[config[setting]] = value;
    fieldSettings[config[setting]] = setting;
  }
  return { summary: `Access: ${app} ${role} for ${request.subject}`, reporterEmail: request.requester, fields, fieldSettings };
}
