/*
 * A process appending to the audit log, for the test that a maintenance command may write beside the
 * server on SQLite: `node --import ./test/support/register-ts.mjs test/support/audit-append-child.ts
 * <DATABASE_URL> <lock|nolock> <overlap>`. It appends until it has written <overlap> events after
 * the first event of the other process (started with the other lock mode), so the two surely write at
 * the same time however far apart they start. Prints one JSON line.
 */
import { AuditService } from '../../src/audit/audit.service.js';
import { openDatabase } from '../../src/db/database.js';

const [url = '', lock = 'lock', overlap = '0'] = process.argv.slice(2);
const other = lock === 'lock' ? 'nolock' : 'lock';
const handle = openDatabase(url, { instanceLock: lock === 'lock' });
const audit = new AuditService({ db: handle.db });
const deadline = Date.now() + 60_000;
let written = 0;
let afterOther = -1;
const errors: string[] = [];
while (afterOther < Number(overlap) && Date.now() < deadline) {
  try {
    await audit.record({ action: `test.append.${lock}`, outcome: 'success', reason: String(written) });
    written += 1;
  } catch (err) {
    errors.push(err instanceof Error ? err.message : String(err));
  }
  if (afterOther < 0) {
    const seen = await audit.list({ action: `test.append.${other}`, limit: 1 });
    if (seen.length > 0) afterOther = 0;
  } else {
    afterOther += 1;
  }
}
await handle.close();
process.stdout.write(
  `${JSON.stringify({ written, overlapped: afterOther, errors: errors.length, first: errors[0] ?? null })}\n`,
);
