import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED } from '../../src/logging/logger.js';

function capture() {
  const lines: Record<string, any>[] = [];
  let raw = '';
  const destination = new Writable({
    write(chunk, _encoding, done) {
      raw += chunk.toString();
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { destination, lines, raw: () => raw };
}

const CANARY = 'glpat-CANARY-9f8e7d';

describe('logger', () => {
  it('writes JSON lines at the configured level', () => {
    const out = capture();
    const log = createLogger({ level: 'warn', destination: out.destination });
    log.info('hidden');
    log.warn({ userId: 7 }, 'shown');
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatchObject({ level: 40, msg: 'shown', userId: 7 });
    expect(out.lines[0]?.time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('redacts credentials, tokens and cookies at any depth', () => {
    const out = capture();
    const log = createLogger({ level: 'info', destination: out.destination });
    log.info(
      {
        headers: {
          authorization: `Bearer ${CANARY}`,
          'PRIVATE-TOKEN': CANARY,
          cookie: `sid=${CANARY}`,
          accept: 'json',
        },
        token: CANARY,
        upstream: { config: { headers: { Authorization: CANARY } } },
        form: { password: CANARY, newPassword: CANARY, username: 'ada' },
        oauth: { access_token: CANARY, refresh_token: CANARY, id_token: CANARY, code_verifier: CANARY },
        client: { clientSecret: CANARY, client_secret: CANARY },
        list: [{ secret: CANARY }],
      },
      'request to GitLab',
    );
    expect(out.raw()).not.toContain('CANARY');
    const [line] = out.lines;
    expect(line?.headers).toEqual({
      authorization: REDACTED,
      'PRIVATE-TOKEN': REDACTED,
      cookie: REDACTED,
      accept: 'json',
    });
    expect(line?.form).toEqual({ password: REDACTED, newPassword: REDACTED, username: 'ada' });
    expect(line?.list).toEqual([{ secret: REDACTED }]);
  });

  it('redacts the OAuth callback parameters code and state, but keeps error codes', () => {
    const out = capture();
    const log = createLogger({ level: 'info', destination: out.destination });
    log.info(
      { code: CANARY, state: CANARY, query: { code: CANARY, state: CANARY, iss: 'https://gitlab' } },
      'callback',
    );
    log.error({ err: Object.assign(new Error('connect failed'), { code: 'ECONNREFUSED' }) }, 'upstream');
    expect(out.raw()).not.toContain('CANARY');
    expect(out.lines[0]?.query).toEqual({ code: REDACTED, state: REDACTED, iss: 'https://gitlab' });
    expect(out.lines[1]?.err).toMatchObject({
      type: 'Error',
      message: 'connect failed',
      code: 'ECONNREFUSED',
    });
  });

  it('redacts secrets carried by error objects, as HTTP client errors do', () => {
    const out = capture();
    const log = createLogger({ level: 'info', destination: out.destination });
    const err = Object.assign(new Error('Request failed with status 401'), {
      config: { url: 'https://gitlab/api/v4/users', headers: { 'PRIVATE-TOKEN': CANARY } },
      request: { headers: { authorization: CANARY } },
    });
    log.error(err);
    log.error(
      { err: new Error('outer', { cause: Object.assign(new Error('inner'), { token: CANARY }) }) },
      'x',
    );
    expect(out.raw()).not.toContain('CANARY');
    expect(out.lines[0]?.err.config).toEqual({
      url: 'https://gitlab/api/v4/users',
      headers: { 'PRIVATE-TOKEN': REDACTED },
    });
  });

  it('redacts child logger bindings', () => {
    const out = capture();
    const log = createLogger({ level: 'info', destination: out.destination }).child({
      sessionToken: CANARY,
      requestId: 'r1',
    });
    log.info('hello');
    expect(out.raw()).not.toContain('CANARY');
    expect(out.lines[0]).toMatchObject({ requestId: 'r1', sessionToken: REDACTED });
  });

  it('logs requests by path, without the query string', () => {
    const out = capture();
    const log = createLogger({ level: 'info', destination: out.destination });
    log.info(
      {
        req: {
          id: 'req-1',
          method: 'GET',
          url: `/auth/callback?code=${CANARY}&state=${CANARY}`,
          ip: '192.0.2.7',
          headers: { cookie: CANARY },
        },
        res: { statusCode: 303, getHeader: () => CANARY },
      },
      'request completed',
    );
    expect(out.raw()).not.toContain('CANARY');
    expect(out.lines[0]?.req).toEqual({
      id: 'req-1',
      method: 'GET',
      path: '/auth/callback',
      remoteAddress: '192.0.2.7',
    });
    expect(out.lines[0]?.res).toEqual({ statusCode: 303 });
  });

  it('survives circular objects', () => {
    const out = capture();
    const log = createLogger({ level: 'info', destination: out.destination });
    const a: Record<string, unknown> = { name: 'a', password: CANARY };
    a.self = a;
    const shared = { x: 1 };
    log.info({ a, first: shared, second: shared }, 'circular');
    expect(out.raw()).not.toContain('CANARY');
    expect(out.lines[0]).toMatchObject({
      a: { name: 'a', self: '[Circular]' },
      first: { x: 1 },
      second: { x: 1 },
    });
  });
});
