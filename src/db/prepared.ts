import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';
import type { Database } from './schema.js';

/** Runs a prepared query on the database or inside one of its transactions. */
export type PreparedQuery<V, R> = (executor: Kysely<Database>, values: V) => Promise<QueryResult<R>>;

/** What `build` names a value with. */
export type ValueOf<V> = <K extends keyof V & string>(name: K) => V[K];

/** Each compiled parameter: the name of a value given per run, or a constant written into the query. */
type Parameter<V> = { name: keyof V & string } | { constant: unknown };

const PLACEHOLDER = '\u0000prepared:';

/**
 * A query built and compiled once, then run with new values: on the hot path, building and compiling
 * a Kysely query takes longer than SQLite takes to run it. `build` names each value that varies with
 * `value(name)`; the compiled parameters are mapped back to those names, so their order is whatever
 * Kysely chose, and any other value stays as it was given. The query's shape must not depend on the
 * values (no optional clauses). Compiled on first use, in the dialect of the database `build` uses.
 */
export function prepared<V extends Record<string, unknown>, R>(
  build: (value: ValueOf<V>) => Compilable<R>,
): PreparedQuery<V, R> {
  let compiled: { query: CompiledQuery<R>; parameters: Parameter<V>[] } | undefined;
  return async (executor, values) => {
    compiled ??= compile(build);
    const parameters = compiled.parameters.map((p) => ('name' in p ? values[p.name] : p.constant));
    return executor.executeQuery<R>({ ...compiled.query, parameters });
  };
}

function compile<V extends Record<string, unknown>, R>(
  build: (value: ValueOf<V>) => Compilable<R>,
): { query: CompiledQuery<R>; parameters: Parameter<V>[] } {
  const named = new Set<string>();
  const query = build(<K extends keyof V & string>(name: K) => {
    named.add(name);
    return `${PLACEHOLDER}${name}` as V[K];
  }).compile();
  const parameters = query.parameters.map((parameter): Parameter<V> => {
    if (typeof parameter === 'string' && parameter.startsWith(PLACEHOLDER)) {
      return { name: parameter.slice(PLACEHOLDER.length) as keyof V & string };
    }
    return { constant: parameter };
  });
  for (const name of named) {
    if (!parameters.some((p) => 'name' in p && p.name === name)) {
      throw new Error(`the value ${name} is not a parameter of: ${query.sql}`);
    }
  }
  return { query, parameters };
}
