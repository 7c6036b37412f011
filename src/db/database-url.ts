import { isAbsolute, resolve } from 'node:path';

export type DatabaseTarget = { dialect: 'sqlite'; path: string } | { dialect: 'postgres'; url: string };

export class DatabaseUrlError extends Error {
  override readonly name = 'DatabaseUrlError';
}

/**
 * Reads a `DATABASE_URL`: `postgres://…` / `postgresql://…`, `sqlite:///absolute/path.db`,
 * `sqlite:relative/path.db` or a plain file path. Relative SQLite paths are resolved against `cwd`.
 * Error messages never repeat the value: it may hold a password.
 */
export function parseDatabaseUrl(text: string, cwd: string): DatabaseTarget {
  if (/^postgres(ql)?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new DatabaseUrlError('is not a valid postgres:// URL');
    }
    if (!url.hostname)
      throw new DatabaseUrlError('must name the PostgreSQL host, e.g. postgres://user@db:5432/name');
    return { dialect: 'postgres', url: text };
  }
  if (/^sqlite:\/\/\//i.test(text)) return sqlite(text.slice('sqlite://'.length), cwd);
  if (/^sqlite:\/\//i.test(text)) {
    throw new DatabaseUrlError(
      'must be sqlite:///absolute/path.db (three slashes) or sqlite:relative/path.db',
    );
  }
  if (/^sqlite:/i.test(text)) return sqlite(text.slice('sqlite:'.length), cwd);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new DatabaseUrlError('uses an unsupported scheme: use postgres://, postgresql:// or sqlite:');
  }
  return sqlite(text, cwd);
}

function sqlite(path: string, cwd: string): DatabaseTarget {
  if (path === '') throw new DatabaseUrlError('must name a database file');
  if (path === ':memory:') {
    throw new DatabaseUrlError('cannot be an in-memory database: everything would be lost on restart');
  }
  return { dialect: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path) };
}
