import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatProblem, parseCatalog } from '../../shared/catalog/load.js';
import type { Catalog } from '../../shared/catalog/schema.js';
import { normalizeEmail } from '../../shared/email.js';
import { FIELD_LIMITS, fieldText, validateRequest, type AccessRequest } from '../../shared/intake.js';

function mustParse(text: string): Catalog {
  const result = parseCatalog(text);
  if (!result.ok) throw new Error(`expected a valid catalog, got:\n${result.problems.map(formatProblem).join('\n')}`);
  return result.catalog;
}

const catalog = mustParse(readFileSync(new URL('../../catalog.yaml', import.meta.url), 'utf8'));
const APP_NAMES = 'Figma, Salesforce, Notion, Internal admin console, GitHub Enterprise, Looker, Legacy ERP';
const NO_REQUESTER_EMAIL = 'the requester has no visible email address in Jira; ask an admin to make it visible to the Grantline account';

function request(overrides: Partial<AccessRequest> = {}): AccessRequest {
  return {
    issueKey: 'ACCESS-12',
    requester: 'rita@example.com',
    subject: 'rita@example.com',
    app: 'Salesforce',
    role: 'admin',
    duration: 'PT6H',
    justification: 'Quarter-end close needs admin reports',
    source: 'jira',
    ...overrides,
  };
}

describe('validateRequest', () => {
  it('a complete, allowed request has no problems', () => {
    expect(validateRequest(catalog, request())).toEqual([]);
  });

  it('accepts the app by key or display name in any case, and the role in any case with spaces', () => {
    expect(validateRequest(catalog, request({ app: 'salesforce', role: ' Admin ' }))).toEqual([]);
    expect(validateRequest(catalog, request({ app: 'internal ADMIN console', role: 'break-glass', duration: 'PT1H' }))).toEqual([]);
    expect(validateRequest(catalog, request({ app: 'Legacy ERP', role: 'clerk', duration: 'permanent' }))).toEqual([]);
  });

  it('returns every problem at once: missing requester, missing subject, missing justification and unknown app (listing the app names)', () => {
    expect(validateRequest(catalog, request({ requester: '', subject: '', justification: '   ', app: 'Photoshop' }))).toEqual([
      NO_REQUESTER_EMAIL,
      'subject is missing: give the email of the person who needs access',
      'justification is missing: say why the access is needed',
      `unknown app "Photoshop": choose one of ${APP_NAMES}`,
    ]);
  });

  it('returns every problem at once: bad subject email, missing justification and unknown role (listing the roles)', () => {
    expect(validateRequest(catalog, request({ subject: 'rita at example', justification: '', role: 'superuser' }))).toEqual([
      'subject "rita at example" is not an email address',
      'justification is missing: say why the access is needed',
      'unknown role "superuser" for Salesforce: choose one of read-only, admin',
    ]);
  });

  it('returns every problem at once: missing requester, bad subject and a duration over the maximum', () => {
    expect(validateRequest(catalog, request({ requester: '', subject: 'not-an-email', duration: 'P30D' }))).toEqual([
      NO_REQUESTER_EMAIL,
      'subject "not-an-email" is not an email address',
      'duration P30D (30 days) is longer than the maximum PT24H for Salesforce admin',
    ]);
  });

  it('a duration that is not offered or not a duration lists the allowed durations', () => {
    expect(validateRequest(catalog, request({ duration: 'PT2H' }))).toEqual([
      'duration PT2H is not offered for Salesforce admin; choose one of PT1H, PT6H, PT24H',
    ]);
    expect(validateRequest(catalog, request({ duration: 'a while' }))).toEqual([
      'duration "a while" is not an ISO-8601 duration; choose one of PT1H, PT6H, PT24H',
    ]);
  });

  it('missing app, role or duration says what to choose', () => {
    expect(validateRequest(catalog, request({ app: '' }))).toEqual([`app is missing: choose one of ${APP_NAMES}`]);
    expect(validateRequest(catalog, request({ role: '' }))).toEqual(['role is missing: Salesforce offers read-only, admin']);
    expect(validateRequest(catalog, request({ duration: '' }))).toEqual(['duration is missing: Salesforce admin allows PT1H, PT6H, PT24H']);
  });

  it('names the Jira field for each missing field when labels are given', () => {
    const labels = { subject: 'customfield_10010', justification: 'customfield_10014', app: 'customfield_10011' };
    expect(validateRequest(catalog, request({ subject: '', justification: '', app: '' }), labels)).toEqual([
      'subject (Jira field customfield_10010) is missing: give the email of the person who needs access',
      'justification (Jira field customfield_10014) is missing: say why the access is needed',
      `app (Jira field customfield_10011) is missing: choose one of ${APP_NAMES}`,
    ]);
  });

  it('identities are compared trimmed and lower-cased; what is not an email after that is reported', () => {
    expect(normalizeEmail('  Maria.Manager@Example.COM ')).toBe('maria.manager@example.com');
    expect(normalizeEmail('maria manager')).toBeUndefined();
    expect(validateRequest(catalog, request({ requester: ' Rita@Example.com', subject: 'Sam@Example.com ' }))).toEqual([]);
    expect(validateRequest(catalog, request({ requester: 'rita', subject: '<@U123>' }))).toEqual([
      'the requester "rita" is not an email address',
      'subject "<@U123>" is not an email address',
    ]);
  });

  it('a field at its limit is accepted; one character over is reported alone, without quoting it', () => {
    expect(validateRequest(catalog, request({ justification: 'j'.repeat(FIELD_LIMITS.justification) }))).toEqual([]);
    expect(validateRequest(catalog, request({ justification: 'j'.repeat(FIELD_LIMITS.justification + 1), app: 'Photoshop' }))).toEqual([
      'justification is too long: 4,001 characters, the limit is 4,000',
    ]);
  });

  it("the request's end date (JIRA_FIELD_END_DATE) must be a YYYY-MM-DD day; the problem names the Jira field", () => {
    const labels = { 'end date': 'customfield_10074' };
    expect(validateRequest(catalog, request({ endDate: '2026-03-31' }), labels)).toEqual([]);
    expect(validateRequest(catalog, request({ endDate: '' }), labels)).toEqual([]);
    expect(validateRequest(catalog, request({ endDate: '31/03/2026' }), labels)).toEqual([
      'end date (Jira field customfield_10074) "31/03/2026" is not a date: give the last day as YYYY-MM-DD, e.g. 2026-03-31',
    ]);
    expect(validateRequest(catalog, request({ endDate: '2026-02-30', app: '' }))).toEqual([
      'end date "2026-02-30" is not a date: give the last day as YYYY-MM-DD, e.g. 2026-03-31',
      `app is missing: choose one of ${APP_NAMES}`,
    ]);
    expect(validateRequest(catalog, request({ endDate: `2026-03-31T${'9'.repeat(100)}` }))[0]).toBe(
      `end date "2026-03-31T${'9'.repeat(29)}…" is not a date: give the last day as YYYY-MM-DD, e.g. 2026-03-31`,
    );
  });
});

describe('fieldText', () => {
  it('refuses nesting deeper than 100 levels with a 400 naming the field, at the limit it still reads', () => {
    const nested = (depth: number): unknown => (depth === 0 ? { type: 'text', text: 'deep' } : { type: 'paragraph', content: [nested(depth - 1)] });
    expect(fieldText({ type: 'doc', content: [nested(98)] }, 'description')).toBe('deep');
    expect(() => fieldText({ type: 'doc', content: [nested(100)] }, 'description')).toThrow(
      expect.objectContaining({
        name: 'MalformedRequestError',
        status: 400,
        message: 'description is nested more than 100 levels deep; Grantline reads at most 100',
      }),
    );
  });

  it('reads plain strings, trimmed', () => {
    expect(fieldText('  Salesforce  ')).toBe('Salesforce');
  });

  it('reads a select option by its value', () => {
    expect(fieldText({ self: 'https://jira/rest/api/3/customFieldOption/10001', value: 'Figma', id: '10001' })).toBe('Figma');
  });

  it('reads a user by email address', () => {
    expect(fieldText({ accountId: '5b10a2844c20165700ede21g', emailAddress: 'nina.newhire@example.com', displayName: 'Nina New' })).toBe(
      'nina.newhire@example.com',
    );
  });

  it('falls back to name, then key', () => {
    expect(fieldText({ name: 'admin', id: '3' })).toBe('admin');
    expect(fieldText({ key: 'ACCESS' })).toBe('ACCESS');
  });

  it('reads arrays as a comma-separated list, skipping empty entries', () => {
    expect(fieldText([{ value: 'PT1H' }, '', { value: 'PT6H' }, null])).toBe('PT1H, PT6H');
  });

  it('reads numbers and booleans', () => {
    expect(fieldText(42)).toBe('42');
    expect(fieldText(true)).toBe('true');
  });

  it('reads nothing from null, undefined or an unknown object', () => {
    expect(fieldText(null)).toBe('');
    expect(fieldText(undefined)).toBe('');
    expect(fieldText({ id: 7 })).toBe('');
  });

  it('reads an ADF document (type doc with paragraphs) as plain text, one line per paragraph', () => {
    const adf = {
      type: 'doc',
      version: 1,
      content: [
        {
          type: 'paragraph',
          content: [
            { type: 'text', text: 'Quarter-end close ' },
            { type: 'text', text: 'needs', marks: [{ type: 'strong' }] },
            { type: 'text', text: ' admin reports.' },
          ],
        },
        { type: 'paragraph', content: [{ type: 'text', text: 'Ticket FIN-42.' }] },
      ],
    };
    expect(fieldText(adf)).toBe('Quarter-end close needs admin reports.\nTicket FIN-42.');
  });

  it('an empty ADF document reads as empty text', () => {
    expect(fieldText({ type: 'doc', version: 1, content: [] })).toBe('');
  });
});
