/**
 * Paging for the list routes: a page is one DynamoDB Query with a Limit, and its cursor is the
 * Query's LastEvaluatedKey, JSON in base64url. The cursor is opaque to callers and checked on the way
 * in: it must name exactly the keys of the index being read, as strings, inside the partition being
 * read, or it is refused (400) before DynamoDB sees it.
 */
import { MalformedRequestError } from '../errors.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 500;

export interface PageRequest {
  /** Items per page, 1..MAX_PAGE_SIZE. */
  limit: number;
  /** The previous page's nextCursor; absent for the first page. */
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  /** Present while more items may follow (the last page can be empty when the set ends on a page boundary). */
  nextCursor?: string;
}

/** `?limit=` and `?cursor=` of a list route: default 100 items, at most 500; anything else is a 400. */
export function pageRequestFrom(query: Record<string, string | undefined>): PageRequest {
  const raw = query.limit?.trim();
  const limit = raw === undefined || raw === '' ? DEFAULT_PAGE_SIZE : /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE)
    throw new MalformedRequestError(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  const cursor = query.cursor?.trim();
  return { limit, ...(cursor ? { cursor } : {}) };
}

export type Key = Record<string, string>;

export function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key), 'utf8').toString('base64url') : undefined;
}

/**
 * The ExclusiveStartKey a cursor stands for. `attributes` are the key attributes a LastEvaluatedKey of
 * this Query has (table keys and the index's keys); `pinned` are the values some of them must have
 * (the partition being read, the item kind).
 */
export function decodeCursor(cursor: string | undefined, attributes: readonly string[], pinned: Key): Key | undefined {
  if (cursor === undefined) return undefined;
  const refuse = (): never => {
    throw new MalformedRequestError('cursor is not one this list gave out: start again without it');
  };
  if (cursor.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return refuse();
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return refuse();
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key)) return refuse();
  const entries = Object.entries(key as Record<string, unknown>);
  const sameKeys =
    entries.length === attributes.length && entries.every(([k, v]) => attributes.includes(k) && typeof v === 'string' && v.length > 0 && v.length <= 1024);
  if (!sameKeys || Object.entries(pinned).some(([k, v]) => (key as Key)[k] !== v)) return refuse();
  return key as Key;
}
