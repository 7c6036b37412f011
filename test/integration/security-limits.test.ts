import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/databases.js';
import { type Portal, type PortalClient, startPortal } from '../support/portal.js';

/** H4: request size limits, over a real socket where the HTTP parser itself is under test. */

const KIB = 1024;
const MIB = 1024 * KIB;
/** One shared chunk: the uploads below cost the test process nothing per request. */
const CHUNK = Buffer.alloc(MIB, 'a');

interface RawAnswer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

/**
 * Sends `bytes` of body in 1 MiB chunks (with a Content-Length, or chunked) and resolves with the
 * answer. The server may answer and close before the upload ends; that is the point, not an error.
 */
function upload(
  address: AddressInfo,
  path: string,
  bytes: number,
  headers: Record<string, string>,
  options: { chunked?: boolean } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(
      {
        host: address.address,
        port: address.port,
        method: 'POST',
        path,
        agent: false,
        headers: options.chunked ? headers : { ...headers, 'content-length': String(bytes) },
      },
      (res) => {
        answered = true;
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        const part = CHUNK.subarray(0, Math.min(CHUNK.length, bytes - sent));
        sent += part.length;
        if (!req.write(part)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

function get(address: AddressInfo, path: string, headers: Record<string, string>): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: address.address, port: address.port, method: 'GET', path, agent: false, headers },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describeEachDialect('H4: request size limits', (dialect) => {
  let portal: Portal;
  let alice: PortalClient;
  let address: AddressInfo;
  let signedIn: Record<string, string>;

  beforeAll(async () => {
    portal = await startPortal({ dialect });
    alice = await portal.signIn('alice');
    await portal.app.listen({ host: '127.0.0.1', port: 0 });
    address = portal.app.server.address() as AddressInfo;
    signedIn = {
      cookie: `__Host-gle_session=${alice.sessionCookie}`,
      origin: alice.publicOrigin,
      'x-csrf-token': await alice.csrfToken(),
    };
    portal.sim.clearRequests();
  });

  afterAll(async () => {
    if (portal) expect(await portal.leaks()).toEqual([]);
    await portal?.close();
  });

  it('H4: a 10 MiB body is refused with 413: a page for browsers, problem+json for JSON clients', async () => {
    const page = await upload(address, '/extern/sponsorships', 10 * MIB, {
      ...signedIn,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
    });
    expect(page.status).toBe(413);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('Too much data');
    expect(page.headers['content-security-policy']).toMatch(/object-src 'none'/);
    expect(page.headers['cache-control']).toBe('no-store');

    const problem = await upload(address, '/extern/sponsorships', 10 * MIB, {
      ...signedIn,
      'content-type': 'application/json',
      accept: 'application/json',
    });
    expect(problem.status).toBe(413);
    expect(problem.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(JSON.parse(problem.body)).toMatchObject({ status: 413, title: 'Payload Too Large' });

    // Unknown length (chunked) is cut off the same way, signed out too.
    const chunked = await upload(
      address,
      '/extern/sponsorships',
      10 * MIB,
      { 'content-type': 'application/json', accept: 'application/json' },
      { chunked: true },
    );
    expect(chunked.status).toBe(413);
    expect(portal.sim.requests()).toEqual([]);
  });

  it('H4: forms and JSON bodies may have up to 64 KiB; one byte more is refused', async () => {
    const formAt = (bytes: number) => {
      const prefix = 'reason=';
      return `${prefix}${'r'.repeat(bytes - prefix.length)}`;
    };
    const send = async (contentType: string, body: string) => {
      const res = await alice.request('POST', '/sponsorships', {
        headers: { origin: alice.publicOrigin, 'x-csrf-token': await alice.csrfToken(), accept: 'text/html' },
        payload: body,
        contentType,
      });
      return res.status;
    };
    expect(await send('application/x-www-form-urlencoded', formAt(64 * KIB))).toBe(422);
    expect(await send('application/x-www-form-urlencoded', formAt(64 * KIB + 1))).toBe(413);
    const json = (bytes: number) => {
      const shell = JSON.stringify({ reason: '' });
      return JSON.stringify({ reason: 'r'.repeat(bytes - shell.length) });
    };
    expect(await send('application/json', json(64 * KIB))).toBe(422);
    expect(await send('application/json', json(64 * KIB + 1))).toBe(413);
    // CSP reports need far less.
    const report = await upload(address, '/extern/csp-report', 17 * KIB, {
      'content-type': 'application/csp-report',
    });
    expect(report.status).toBe(413);
    expect(portal.sim.requests({ method: 'POST' })).toEqual([]);
  });

  it('H4: over-long headers and URLs are refused by the HTTP parser', async () => {
    const longHeader = await get(address, '/extern/', { 'x-filler': 'h'.repeat(20 * KIB) });
    expect(longHeader.status).toBe(431);
    const manyHeaders = Object.fromEntries(
      Array.from({ length: 400 }, (_, i) => [`x-h${i}`, 'v'.repeat(60)]),
    );
    expect((await get(address, '/extern/', manyHeaders)).status).toBe(431);
    const longUrl = await get(address, `/extern/?q=${'u'.repeat(20 * KIB)}`, {});
    expect(longUrl.status).toBe(431);
    // A long cookie is a header too.
    const cookie = await get(address, '/extern/', { cookie: `__Host-gle_session=${'c'.repeat(20 * KIB)}` });
    expect(cookie.status).toBe(431);
    // The server is still there.
    expect((await get(address, '/extern/healthz', {})).status).toBe(200);
  });

  it('H4: thirty 10 MiB uploads at once leave the server’s memory where it was', async () => {
    const before = process.memoryUsage().rss;
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        upload(
          address,
          i % 2 ? '/extern/sponsorships' : '/extern/csp-report',
          10 * MIB,
          { ...signedIn, 'content-type': i % 3 ? 'application/json' : 'application/x-www-form-urlencoded' },
          { chunked: i % 4 === 0 },
        ),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(30).fill(413));
    const grown = process.memoryUsage().rss - before;
    // 300 MiB went over the wire; buffering even a third of it would show here.
    expect(grown).toBeLessThan(100 * MIB);
    expect((await get(address, '/extern/healthz', {})).status).toBe(200);
  });
});
