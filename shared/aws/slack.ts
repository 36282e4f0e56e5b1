/**
 * Slack through @slack/web-api, for the functions that ask approvers, update the prompt or tell the
 * requester. Passed in by their handlers (functions/*\/handler.ts): only they bundle and load it.
 */
import { required, type Config } from '../config.js';
import { SlackChat } from '../connectors/slack.js';
import type { Chat } from '../ports.js';

export function slackChat(config: Config): Chat {
  return new SlackChat({ token: required(config, 'SLACK_BOT_TOKEN'), ...(config.SLACK_API_URL ? { apiUrl: config.SLACK_API_URL } : {}) });
}
