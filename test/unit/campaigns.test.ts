/** The recommendation each review item carries, and its reason, at the edges of the inactivity window; the campaign's CSV. */
import { describe, expect, it } from 'vitest';
import { CAMPAIGN_CSV_COLUMNS, type CampaignItem, campaignCsv, recommend } from '../../shared/campaigns.js';
import type { Grant } from '../../shared/grants/model.js';

const now = new Date('2026-06-01T12:00:00.000Z');
const grant = { id: 'grant-ACC-1' } as Grant;
const daysAgo = (n: number) => new Date(now.getTime() - n * 86_400_000).toISOString();

describe('the recommendation', () => {
  it('revokes access outside Grantline, whatever the last sign-in', () => {
    expect(recommend(undefined, daysAgo(1), 90, now)).toEqual({
      recommendation: 'revoke',
      reason: 'access outside Grantline: no request or approval on record',
    });
  });

  it('revokes a grant unused for the inactivity window, from its first day on; keeps one used the day before', () => {
    expect(recommend(grant, daysAgo(90), 90, now)).toEqual({ recommendation: 'revoke', reason: 'no sign-in for 90 days (inactive after 90)' });
    expect(recommend(grant, daysAgo(89), 90, now)).toEqual({ recommendation: 'keep', reason: 'held through Grantline; signed in 89 day(s) ago' });
  });

  it('keeps a grant whose last sign-in the provider does not give, and says so', () => {
    expect(recommend(grant, undefined, 90, now).reason).toBe('held through Grantline; last sign-in unknown (the identity provider does not say)');
  });
});

describe('the CSV of a campaign', () => {
  const item: CampaignItem = {
    campaignId: 'review-1',
    itemId: '00001',
    app: 'notion',
    appName: 'Notion',
    role: 'member',
    provider: 'okta',
    group: '00gnotionmember',
    email: 'pat@example.com',
    name: '=HYPERLINK("http://evil.example","click")',
    title: 'Lead, "Platform"',
    department: '@ops',
    lastLogin: 'unknown',
    recommendation: 'revoke',
    reason: 'access outside Grantline: no request or approval on record',
    reviewer: 'nora@example.com',
    decision: { outcome: 'revoke', by: 'nora@example.com', at: '2026-06-01T12:00:00.000Z', reason: 'left\nthe team' },
    result: 'outside Grantline: removed',
  };

  it('has a header row, one row an item, CRLF line ends (RFC 4180)', () => {
    const csv = campaignCsv([item, { ...item, itemId: '00002', name: 'Sam' }]);
    expect(csv.endsWith('\r\n')).toBe(true);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe(CAMPAIGN_CSV_COLUMNS.join(','));
    expect(lines.filter(Boolean)).toHaveLength(3);
  });

  it('quotes a cell with a comma, quote or line break; a cell a spreadsheet would run as a formula starts with an apostrophe', () => {
    const row = campaignCsv([item]).split('\r\n')[1]!;
    expect(row).toContain(`"'=HYPERLINK(""http://evil.example"",""click"")"`);
    expect(row).toContain(`"Lead, ""Platform"""`);
    expect(row).toContain(",'@ops,");
    expect(row).toContain(',outside Grantline,');
    expect(row).toContain('"left\nthe team"');
  });
});
