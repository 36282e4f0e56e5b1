/**
 * The local runtime's anchor copies (shared/chain.ts AnchorCopies): one file per anchor,
 * `<dir>/<day>/<anchoredAt>.json` (the time's ':' written as '-', which some file systems refuse),
 * holding the anchor's canonical JSON, as S3 keeps them in AWS (shared/aws/anchors.ts).
 *
 * Write-once as far as a directory can be: a file is created only if none is there (O_EXCL) and
 * made read-only, so Grantline never writes over a copy. That is all: anyone who can write the
 * directory can change or delete a copy. A local directory is not tamper-proof; the compliance-mode
 * Object Lock of the AWS bucket is what makes a copy outlast whoever edits the ledger.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Anchor, type AnchorCopies, canonicalJson } from '../../shared/chain.js';
import { ConflictError, PermanentError } from '../../shared/errors.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

export class DirectoryAnchorCopies implements AnchorCopies {
  constructor(readonly dir: string) {}

  /** Where an anchor's copy is (checked to be a day and a time, so nothing names a path outside the directory). */
  fileOf(anchor: Pick<Anchor, 'day' | 'anchoredAt'>): string {
    if (!DAY.test(anchor.day) || !INSTANT.test(anchor.anchoredAt)) {
      throw new PermanentError(`not an anchor's day and time: ${JSON.stringify(anchor.day)}, ${JSON.stringify(anchor.anchoredAt)}`);
    }
    return join(this.dir, anchor.day, `${anchor.anchoredAt.replaceAll(':', '-')}.json`);
  }

  async write(anchor: Anchor): Promise<string> {
    const file = this.fileOf(anchor);
    const { copy: _copy, ...content } = anchor;
    await mkdir(join(this.dir, anchor.day), { recursive: true });
    try {
      // 'wx': fails when the file exists; mode 0o444: read-only from the start.
      await writeFile(file, canonicalJson(content), { flag: 'wx', mode: 0o444 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ConflictError(`an anchor copy is already at ${file}: it is never written over`);
      throw err;
    }
    return file;
  }

  async read(anchor: Pick<Anchor, 'day' | 'anchoredAt'>): Promise<Anchor | undefined> {
    const file = this.fileOf(anchor);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      return JSON.parse(text) as Anchor;
    } catch {
      throw new PermanentError(`the anchor copy ${file} is not JSON`);
    }
  }
}
