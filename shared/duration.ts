/** ISO-8601 durations as the catalog and requests use them: PnW, PnDTnHnMnS, or the word "permanent". */
export const PERMANENT = 'permanent';

const ISO_DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** Milliseconds, Infinity for "permanent", undefined when the text is not a duration. */
export function durationMs(text: string): number | undefined {
  const value = text.trim();
  if (value.toLowerCase() === PERMANENT) return Infinity;
  const m = ISO_DURATION.exec(value.toUpperCase());
  if (!m || value.length < 3 || value.toUpperCase().endsWith('T')) return undefined;
  const [, w, d, h, min, s] = m.map((part) => Number(part ?? 0));
  const ms = ((((w! * 7 + d!) * 24 + h!) * 60 + min!) * 60 + s!) * 1000;
  return ms > 0 ? ms : undefined;
}

export function isDuration(text: string): boolean {
  return durationMs(text) !== undefined;
}

/** Normalised spelling: upper-case ISO, or "permanent". */
export function normaliseDuration(text: string): string {
  const value = text.trim();
  return value.toLowerCase() === PERMANENT ? PERMANENT : value.toUpperCase();
}

export function describeDuration(text: string): string {
  const ms = durationMs(text);
  if (ms === undefined) return text;
  if (ms === Infinity) return 'permanent';
  const hours = ms / 3_600_000;
  if (hours >= 24 && hours % 24 === 0) return `${hours / 24} day${hours === 24 ? '' : 's'}`;
  if (Number.isInteger(hours)) return `${hours} hour${hours === 1 ? '' : 's'}`;
  const minutes = ms / 60_000;
  if (Number.isInteger(minutes)) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  const seconds = Math.round(ms / 1000);
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}
