/*
 * A second process for the SQLite single-process test: opens the database given as argument and
 * reports on stdout. `hold` keeps it open until the process is killed.
 */
import { openDatabase } from '../../src/db/database.js';

const [path = '', mode = 'close'] = process.argv.slice(2);

try {
  const handle = openDatabase({ dialect: 'sqlite', path });
  process.stdout.write('opened\n');
  if (mode === 'hold') setInterval(() => undefined, 60_000);
  else await handle.close();
} catch (err) {
  const { name, message } = err instanceof Error ? err : new Error(String(err));
  process.stdout.write(`${JSON.stringify({ name, message })}\n`);
  process.exitCode = 3;
}
