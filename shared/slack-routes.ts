/**
 * Slack ingress: Approve/Deny clicks, "I'm done" clicks, the `/access` command and the request form
 * it opens, and the buttons and revoke-reason form of a reviewer's access review message. Verify, record, acknowledge: Slack allows 3 s, so the slow work happens after the answer
 * (approvals and provisioning in the workflow, filing a submitted form in the filing job, an early
 * release in the release job).
 */
import * as z from 'zod';
import { decide } from './approval.js';
import { verifySlackRequest } from './auth.js';
import type { Clock } from './clock.js';
import { required, type Config } from './config.js';
import { normalizeEmail } from './email.js';
import { ForbiddenError, MalformedRequestError, errorMessage } from './errors.js';
import { requestForm } from './filing.js';
import { json, type HttpRequest, type HttpResponse } from './http.js';
import { requestProblems, type RequestField } from './intake.js';
import { requestExtension } from './extension.js';
import { approveAll } from './bundles.js';
import { keepRecommended, recordDecision, redrawReviewerMessage } from './campaigns.js';
import {
  APPROVE_ACTION_ID,
  BUNDLE_APPROVE_ALL_ACTION_ID,
  CAMPAIGN_KEEP_ACTION_ID,
  CAMPAIGN_KEEP_RECOMMENDED_ACTION_ID,
  CAMPAIGN_PAGE_ACTION_IDS,
  CAMPAIGN_REVOKE_ACTION_ID,
  type ChatMessageRef,
  DENY_ACTION_ID,
  EXTEND_ACTION_ID,
  RELEASE_ACTION_ID,
  REQUEST_FORM,
  REVIEW_ACTION_ID,
  REVOKE_REASON_FORM,
} from './ports.js';
import { confirmReview } from './break-glass.js';
import { requestRelease } from './release.js';
import type { Services } from './services.js';

export type SlackDeps = Pick<Services, 'config' | 'clock' | 'logger' | 'store' | 'catalog' | 'chat' | 'ticketing' | 'workflow' | 'jobs'>;

/** An input's state in a view: a select's option, a user picker's user, or a text input's text. */
const inputState = z.object({
  selected_option: z
    .object({ value: z.string() })
    .nullish()
    .transform((v) => v ?? undefined),
  selected_user: z
    .string()
    .nullish()
    .transform((v) => v ?? undefined),
  value: z
    .string()
    .nullish()
    .transform((v) => v ?? undefined),
});
const view = z.object({
  id: z.string().min(1),
  hash: z.string().optional(),
  callback_id: z.string().optional(),
  private_metadata: z.string().max(3000).optional(),
  state: z.object({ values: z.record(z.string(), z.record(z.string(), inputState)) }).optional(),
});
type SlackView = z.output<typeof view>;
type ViewValues = NonNullable<SlackView['state']>['values'];

const sender = {
  team: z.object({ id: z.string() }).nullish(),
  api_app_id: z.string().optional(),
  user: z.object({ id: z.string().min(1) }),
};
const interactionPayload = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('block_actions'),
    ...sender,
    actions: z.array(z.object({ action_id: z.string(), value: z.string().optional() })).min(1),
    trigger_id: z.string().optional(),
    view: view.optional(),
    /** The message whose button was clicked (absent for a view's elements). */
    container: z.object({ message_ts: z.string().min(1).optional(), channel_id: z.string().min(1).optional() }).optional(),
  }),
  z.object({ type: z.literal('view_submission'), ...sender, view }),
]);

function verifiedForm(deps: { config: Config; clock: Clock }, req: HttpRequest): URLSearchParams {
  verifySlackRequest({ signingSecret: required(deps.config, 'SLACK_SIGNING_SECRET'), headers: req.headers, rawBody: req.rawBody, clock: deps.clock });
  return new URLSearchParams(req.rawBody);
}

function checkWorkspace(config: Config, teamId: string | undefined, appId: string | undefined): void {
  if (config.SLACK_TEAM_ID && teamId !== config.SLACK_TEAM_ID) throw new ForbiddenError('Slack workspace is not the configured one');
  if (config.SLACK_APP_ID && appId !== config.SLACK_APP_ID) throw new ForbiddenError('Slack app is not the configured one');
}

export async function receiveSlackInteraction(deps: SlackDeps, req: HttpRequest): Promise<HttpResponse> {
  const form = verifiedForm(deps, req);
  let raw: unknown;
  try {
    raw = JSON.parse(form.get('payload') ?? '');
  } catch {
    throw new MalformedRequestError('Slack interaction has no JSON payload');
  }
  const parsed = interactionPayload.safeParse(raw);
  if (!parsed.success) {
    // Other interaction types (shortcuts, closed views) are not ours to handle: acknowledge and ignore.
    return { status: 200 };
  }
  const payload = parsed.data;
  checkWorkspace(deps.config, payload.team?.id ?? undefined, payload.api_app_id);
  const ourForm = payload.view?.callback_id === REQUEST_FORM.callbackId;
  if (payload.type === 'view_submission') {
    if (payload.view.callback_id === REVOKE_REASON_FORM.callbackId) return revokeSubmitted(deps, payload.user.id, payload.view);
    return ourForm ? submitForm(deps, payload.user.id, payload.view) : { status: 200 };
  }
  if (ourForm && payload.view && payload.actions.some((a) => a.action_id === REQUEST_FORM.app || a.action_id === REQUEST_FORM.role)) {
    return redrawForm(deps, payload.view);
  }
  const release = payload.actions.find((a) => a.action_id === RELEASE_ACTION_ID);
  if (release) {
    const { message_ts: ts, channel_id: channel } = payload.container ?? {};
    return releaseClicked(deps, payload.user.id, release.value, ts && channel ? { channel, ts } : undefined);
  }
  const review = payload.actions.find((a) => a.action_id === REVIEW_ACTION_ID);
  if (review) return reviewClicked(deps, payload.user.id, review.value);
  const extend = payload.actions.find((a) => a.action_id === EXTEND_ACTION_ID);
  if (extend) return extendClicked(deps, payload.user.id, extend.value);
  const campaignAction = payload.actions.find((a) => CAMPAIGN_ACTIONS.has(a.action_id));
  if (campaignAction) {
    const { message_ts: ts, channel_id: channel } = payload.container ?? {};
    return campaignClicked(deps, payload.user.id, campaignAction, ts && channel ? { channel, ts } : undefined, payload.trigger_id);
  }
  const approveAllAction = payload.actions.find((a) => a.action_id === BUNDLE_APPROVE_ALL_ACTION_ID);
  if (approveAllAction) return approveAllClicked(deps, payload.user.id, approveAllAction.value);
  const action = payload.actions.find((a) => a.action_id === APPROVE_ACTION_ID || a.action_id === DENY_ACTION_ID);
  if (!action) return { status: 200 };
  // The button value is only a lookup key; everything else is re-read from the ledger.
  const key = /^([0-9A-Za-z_.-]{1,80}):(\d{1,2})$/.exec(action.value ?? '');
  if (!key) throw new MalformedRequestError('approval button value is not a grant reference');

  // Compared with the grant's normalised requester and subject; an address that is not one fails closed.
  const clickerEmail = normalizeEmail(await deps.chat.emailOfUser(payload.user.id));
  const result = await decide(deps, {
    grantId: key[1]!,
    step: Number(key[2]),
    decision: action.action_id === APPROVE_ACTION_ID ? 'approved' : 'denied',
    clickerEmail,
    clickerRef: payload.user.id,
    via: 'slack',
  });
  if (result.outcome !== 'recorded') await tellClicker(deps, payload.user.id, `Your click was not recorded: ${result.reason}.`);
  return json(200, { outcome: result.outcome });
}

/**
 * "Approve all" on a bundle's approval message (shared/bundles.ts): each item still waiting for the
 * clicker is decided as its own Approve click would be; the items refused are told by DM, each with its reason.
 */
async function approveAllClicked(deps: SlackDeps, userId: string, value: string | undefined): Promise<HttpResponse> {
  if (!value || !/^[0-9A-Za-z_.-]{1,80}$/.test(value)) throw new MalformedRequestError('approve-all button value is not a bundle reference');
  const clickerEmail = normalizeEmail(await deps.chat.emailOfUser(userId));
  const results = await approveAll(deps, { bundleId: value, clickerEmail, clickerRef: userId });
  const refused = results.filter((r) => r.result.outcome !== 'recorded');
  if (results.length === 0) await tellClicker(deps, userId, 'Nothing was approved: no item of this bundle is waiting for your decision.');
  else if (refused.length > 0) {
    const reasons = refused.map((r) => `${r.item}: ${r.result.outcome === 'recorded' ? '' : r.result.reason}`).join('; ');
    await tellClicker(deps, userId, `${results.length - refused.length} of ${results.length} approved. Not recorded: ${reasons}.`);
  }
  return json(200, { approved: results.length - refused.length, refused: refused.length });
}

/** Tells the person who clicked why a click changed nothing; best effort. */
async function tellClicker(deps: SlackDeps, userId: string, text: string): Promise<void> {
  try {
    await deps.chat.notify(userId, text);
  } catch (err) {
    deps.logger.warn('could not tell the clicker why the click was refused', { error: (err as Error).message });
  }
}

/**
 * "I'm done" on an "Access granted" message (shared/release.ts). The button value is only the grant id;
 * whether the clicker may end the access is read from the ledger. Anything but an accepted release is
 * told to the clicker by DM, as a refused approval is.
 */
async function releaseClicked(
  deps: SlackDeps,
  userId: string,
  value: string | undefined,
  message: { channel: string; ts: string } | undefined,
): Promise<HttpResponse> {
  if (!value || !/^[0-9A-Za-z_.-]{1,80}$/.test(value)) throw new MalformedRequestError('"I\'m done" button value is not a grant reference');
  const clickerEmail = normalizeEmail(await deps.chat.emailOfUser(userId));
  const result = await requestRelease(deps, { grantId: value, clickerEmail, clickerRef: userId, ...(message ? { message } : {}) });
  if (result.outcome !== 'accepted') {
    const text = result.outcome === 'refused' ? `Grantline did not end this access: ${result.reason}.` : `Nothing to do: ${lowerFirst(result.reason)}.`;
    try {
      await deps.chat.notify(userId, text);
    } catch (err) {
      deps.logger.warn('could not tell the clicker what became of "I\'m done"', { error: (err as Error).message });
    }
  }
  return json(200, { outcome: result.outcome });
}

/**
 * "Reviewed" on a break-glass notice (shared/break-glass.ts): the button value is only the grant id;
 * whether the clicker may confirm it is read from the ledger. A click not recorded is told to the
 * clicker by DM, as a refused approval is.
 */
async function reviewClicked(deps: SlackDeps, userId: string, value: string | undefined): Promise<HttpResponse> {
  if (!value || !/^[0-9A-Za-z_.-]{1,80}$/.test(value)) throw new MalformedRequestError('"Reviewed" button value is not a grant reference');
  const clickerEmail = normalizeEmail(await deps.chat.emailOfUser(userId));
  const result = await confirmReview(deps, { grantId: value, clickerEmail, clickerRef: userId });
  if (result.outcome !== 'recorded') {
    try {
      await deps.chat.notify(userId, `Your review was not recorded: ${result.reason}.`);
    } catch (err) {
      deps.logger.warn('could not tell the clicker why the review was refused', { error: (err as Error).message });
    }
  }
  return json(200, { outcome: result.outcome });
}

/**
 * "Extend by …" on the notice before access ends (shared/extension.ts): the value names the grant and
 * the length only; who may extend, and how far, is read from the ledger and the catalog. The clicker
 * is told the outcome by DM: the request waits for approval, or why it was refused.
 */
async function extendClicked(deps: SlackDeps, userId: string, value: string | undefined): Promise<HttpResponse> {
  const key = /^([0-9A-Za-z_.-]{1,80}):(P[0-9A-Z]{1,20})$/.exec(value ?? '');
  if (!key) throw new MalformedRequestError('"Extend" button value is not a grant reference and a duration');
  const requester = normalizeEmail(await deps.chat.emailOfUser(userId));
  const result = requester
    ? await requestExtension(deps, { grantId: key[1]!, by: key[2]!, requester, via: 'slack' })
    : { outcome: 'refused' as const, reason: 'Grantline cannot see your email address in Slack, so it cannot check that this access is yours' };
  const text =
    result.outcome === 'requested'
      ? `Extension asked: until ${result.until} if approved. Your current access continues meanwhile.`
      : `Grantline did not ask for an extension: ${result.reason}.`;
  try {
    await deps.chat.notify(userId, text);
  } catch (err) {
    deps.logger.warn('could not tell the clicker what became of "Extend"', { error: (err as Error).message });
  }
  return json(200, { outcome: result.outcome });
}

const CAMPAIGN_ACTIONS = new Set<string>([
  CAMPAIGN_KEEP_ACTION_ID,
  CAMPAIGN_REVOKE_ACTION_ID,
  CAMPAIGN_KEEP_RECOMMENDED_ACTION_ID,
  CAMPAIGN_PAGE_ACTION_IDS.previous,
  CAMPAIGN_PAGE_ACTION_IDS.next,
]);
const CAMPAIGN_ID = /^review-[0-9a-z-]{1,40}$/;
const ITEM_REF = /^(review-[0-9a-z-]{1,40}):(\d{5,7})$/;

/**
 * A button on a reviewer's access review message (shared/campaigns.ts). Values name the campaign and
 * item (or page) only; who may decide is read from the ledger. Keep is recorded at once; Revoke opens
 * the modal that asks why (the decision is its submission); "Keep all recommended keeps" keeps each
 * such item as its own Keep would; a page button redraws the message on that page.
 */
async function campaignClicked(
  deps: SlackDeps,
  userId: string,
  action: { action_id: string; value?: string | undefined },
  message: ChatMessageRef | undefined,
  triggerId: string | undefined,
): Promise<HttpResponse> {
  const clicker = normalizeEmail(await deps.chat.emailOfUser(userId));
  if (!clicker) {
    await tellClicker(deps, userId, 'Grantline cannot see your email address in Slack, so it cannot check that these review items are yours.');
    return json(200, { outcome: 'refused' });
  }
  if (action.action_id === CAMPAIGN_KEEP_RECOMMENDED_ACTION_ID) {
    if (!CAMPAIGN_ID.test(action.value ?? '')) throw new MalformedRequestError('"Keep all recommended keeps" value is not a review reference');
    const result = await keepRecommended(deps, action.value!, clicker);
    if (result.outcome === 'refused') await tellClicker(deps, userId, `Nothing was kept: ${result.reason}.`);
    return json(200, result);
  }
  if (action.action_id === CAMPAIGN_PAGE_ACTION_IDS.previous || action.action_id === CAMPAIGN_PAGE_ACTION_IDS.next) {
    const page = /^(review-[0-9a-z-]{1,40}):(\d{1,5})$/.exec(action.value ?? '');
    if (!page) throw new MalformedRequestError('page button value is not a review page');
    const campaign = await deps.store.getCampaign(page[1]!);
    // Only the reviewer's own message is turned: the record keyed by the clicker must be the message clicked.
    const record = campaign ? await deps.store.reviewMessage(campaign.id, clicker) : undefined;
    if (campaign && record?.ts && record.ts === message?.ts) await redrawReviewerMessage(deps, campaign, clicker, Number(page[2]));
    return json(200, { outcome: 'shown' });
  }
  const ref = ITEM_REF.exec(action.value ?? '');
  if (!ref) throw new MalformedRequestError('review button value is not a review item reference');
  const [campaignId, itemId] = [ref[1]!, ref[2]!];
  if (action.action_id === CAMPAIGN_KEEP_ACTION_ID) {
    const result = await recordDecision(deps, { campaignId, itemId, outcome: 'keep', by: clicker });
    if (result.outcome === 'refused') await tellClicker(deps, userId, `Your Keep was not recorded: ${result.reason}.`);
    else await redrawReviewerMessage(deps, result.campaign, result.item.reviewer);
    return json(200, { outcome: result.outcome });
  }
  // Revoke: checked before the modal opens, so a click that cannot count is told at once.
  const campaign = await deps.store.getCampaign(campaignId);
  const item = campaign ? await deps.store.getCampaignItem(campaignId, itemId) : undefined;
  const refusal =
    !campaign || !item
      ? 'no such review item'
      : campaign.status !== 'open'
        ? `the review is ${campaign.status}`
        : item.email === clicker
          ? 'you cannot review your own access'
          : item.reviewer !== clicker
            ? `only ${item.reviewer} reviews this item`
            : item.decision
              ? `already decided: ${item.decision.outcome} by ${item.decision.by}`
              : undefined;
  if (refusal || !triggerId) {
    await tellClicker(deps, userId, `Your Revoke was not recorded: ${refusal ?? 'Slack sent no trigger to open the form with'}.`);
    return json(200, { outcome: 'refused' });
  }
  await deps.chat.openRevokeReason(triggerId, { campaignId, item: item!, ...(message ? { message } : {}) });
  return json(200, { outcome: 'asked' });
}

/**
 * The revoke-reason modal submitted: the decision is recorded at once (the first decision wins) and
 * carried out by a job (the revoke path calls the identity provider: longer than Slack's 3 s). An
 * empty reason is shown under the field; a refusal is told by DM and closes the modal.
 */
async function revokeSubmitted(deps: SlackDeps, userId: string, view: SlackView): Promise<HttpResponse> {
  const reason = inputValue(view.state?.values ?? {}, REVOKE_REASON_FORM.reason, REVOKE_REASON_FORM.reason)?.trim();
  if (!reason) return json(200, { response_action: 'errors', errors: { [REVOKE_REASON_FORM.reason]: 'Say why this access is revoked' } });
  if (reason.length > 1000) return json(200, { response_action: 'errors', errors: { [REVOKE_REASON_FORM.reason]: 'At most 1,000 characters' } });
  const metadata = revokeMetadata.safeParse(parseMetadata(view.private_metadata));
  if (!metadata.success) throw new MalformedRequestError('revoke form metadata is not a review item reference');
  const { campaignId, itemId } = metadata.data;
  const clicker = normalizeEmail(await deps.chat.emailOfUser(userId));
  const result = clicker
    ? await recordDecision(deps, { campaignId, itemId, outcome: 'revoke', by: clicker, reason })
    : { outcome: 'refused' as const, reason: 'Grantline cannot see your email address in Slack' };
  if (result.outcome === 'refused') {
    await tellClicker(deps, userId, `Your Revoke was not recorded: ${result.reason}.`);
    return { status: 200 };
  }
  if (result.unfinished) {
    try {
      await deps.jobs.campaignRevoke({ campaignRevoke: { campaignId, itemId } });
    } catch (err) {
      // Recorded: the campaign sweep carries it out.
      deps.logger.warn('could not hand a review Revoke to its job; the campaign sweep carries it out', { campaignId, itemId, error: errorMessage(err) });
    }
  }
  await redrawReviewerMessage(deps, result.campaign, result.item.reviewer);
  return { status: 200 };
}

const revokeMetadata = z.object({ campaignId: z.string().regex(CAMPAIGN_ID), itemId: z.string().regex(/^\d{5,7}$/) });

function parseMetadata(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? '');
  } catch {
    return undefined;
  }
}

const lowerFirst = (text: string) => text.charAt(0).toLowerCase() + text.slice(1);

/**
 * `/access [app [role]]` opens the request form (prefilled with the app and role when given). Nothing
 * is filed here: the form's submission is (receiveSlackInteraction), and Slack allows 3 s for both.
 */
export async function receiveSlackCommand(deps: SlackDeps, req: HttpRequest): Promise<HttpResponse> {
  const form = verifiedForm(deps, req);
  checkWorkspace(deps.config, form.get('team_id') ?? undefined, form.get('api_app_id') ?? undefined);
  const triggerId = form.get('trigger_id');
  if (!triggerId) throw new MalformedRequestError('Slack command has no trigger_id');
  const [app, role] = (form.get('text') ?? '').trim().split(/\s+/).filter(Boolean);
  try {
    await deps.chat.openRequestForm(triggerId, requestForm(deps.catalog, { app, role }));
  } catch (err) {
    deps.logger.warn('could not open the request form', { error: errorMessage(err) });
    return ephemeral(`Grantline could not open the request form (${errorMessage(err)}). Type /access again.`);
  }
  // An empty 200: Slack shows nothing in the channel, the form is open.
  return { status: 200 };
}

/** A choice in the open form (an app or a role): redraw it with the roles of that app, the durations of that role. */
async function redrawForm(deps: SlackDeps, view: SlackView): Promise<HttpResponse> {
  const chosen = formChoices(view.state?.values ?? {});
  await deps.chat.updateRequestForm(view.id, view.hash, requestForm(deps.catalog, chosen));
  return { status: 200 };
}

/**
 * A submitted form: checked against the catalog (problems shown under their fields, nothing
 * filed), then receipted by conditional write (a replay files nothing) and handed to the filing
 * job. The empty 200 closes the form; the person hears the outcome in Slack.
 */
async function submitForm(deps: SlackDeps, userId: string, view: SlackView): Promise<HttpResponse> {
  const values = view.state?.values ?? {};
  const chosen = formChoices(values);
  const blockOf = (field: RequestField): string => {
    const block = {
      app: REQUEST_FORM.app,
      role: `${REQUEST_FORM.role}/${chosen.app}`,
      duration: `${REQUEST_FORM.duration}/${chosen.app}/${chosen.role}`,
      justification: REQUEST_FORM.justification,
      subject: REQUEST_FORM.subject,
      requester: REQUEST_FORM.subject,
      // The form has no break-glass or bundle fields: such problems show under the app.
      breakGlass: REQUEST_FORM.app,
      incident: REQUEST_FORM.app,
      bundle: REQUEST_FORM.app,
    }[field];
    // Slack shows an error only under an input the form has; anything else goes under the app.
    return block in values ? block : REQUEST_FORM.app;
  };
  const fieldErrors = (problems: Array<{ field: RequestField; message: string }>): HttpResponse => {
    const errors: Record<string, string> = {};
    for (const p of problems) errors[blockOf(p.field)] ??= p.message;
    return json(200, { response_action: 'errors', errors });
  };

  const requester = normalizeEmail(await deps.chat.emailOfUser(userId));
  if (!requester)
    return fieldErrors([{ field: 'requester', message: 'Grantline cannot see your email address in Slack, so it cannot file a request for you' }]);
  const onBehalfOf = inputValue(values, REQUEST_FORM.subject, REQUEST_FORM.subject);
  const subject = onBehalfOf ? normalizeEmail(await deps.chat.emailOfUser(onBehalfOf)) : requester;
  if (!subject) return fieldErrors([{ field: 'subject', message: 'Grantline cannot see the email address of this person in Slack' }]);
  const request = {
    requester,
    subject,
    app: chosen.app ?? '',
    role: chosen.role ?? '',
    duration: chosen.app && chosen.role ? (inputValue(values, `${REQUEST_FORM.duration}/${chosen.app}/${chosen.role}`, REQUEST_FORM.duration) ?? '') : '',
    justification: inputValue(values, REQUEST_FORM.justification, REQUEST_FORM.justification) ?? '',
  };
  const problems = requestProblems(deps.catalog, { ...request, issueKey: 'NEW-1', source: 'slack' });
  if (problems.length > 0) return fieldErrors(problems);

  // A view is submitted once: its id names the submission.
  const receiptKey = `slack-view:${view.id}`;
  const job = { receiptKey, slackUserId: userId, ...request };
  const claim = await deps.store.commands.claim(receiptKey, deps.clock.now().toISOString(), job);
  if (claim.status === 'seen') {
    deps.logger.info('repeated form submission ignored', { receiptKey, issueKey: claim.issueKey });
    return { status: 200 };
  }
  try {
    await deps.jobs.fileRequest(job);
  } catch (err) {
    await deps.store.commands.release(receiptKey);
    deps.logger.error('could not hand a submitted request to the filing job', { receiptKey, error: errorMessage(err) });
    return fieldErrors([{ field: 'justification', message: 'Grantline could not take the request just now; nothing was filed. Submit again in a minute.' }]);
  }
  return { status: 200 };
}

/** What the form's state says is chosen: the role is read from the block of the chosen app, so changing the app forgets it. */
function formChoices(values: ViewValues): { app?: string; role?: string } {
  const app = inputValue(values, REQUEST_FORM.app, REQUEST_FORM.app);
  const role = app ? inputValue(values, `${REQUEST_FORM.role}/${app}`, REQUEST_FORM.role) : undefined;
  return { ...(app ? { app } : {}), ...(role ? { role } : {}) };
}

/** One input's value, whatever its element: a select's option, a user picker's user, a text input's text. */
function inputValue(values: ViewValues, blockId: string, actionId: string): string | undefined {
  const element = values[blockId]?.[actionId];
  const value = element?.selected_option?.value ?? element?.selected_user ?? element?.value;
  return typeof value === 'string' && value.trim() ? value : undefined;
}

function ephemeral(text: string): HttpResponse {
  return json(200, { response_type: 'ephemeral', text });
}
