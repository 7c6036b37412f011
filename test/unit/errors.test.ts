import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.js';
import { DomainError, type ErrorCode, exitCodeFor, toDomainError, toProblem } from '../../src/errors.js';

describe('DomainError', () => {
  it.each([
    ['validation', 400, 2],
    ['unauthorized', 401, 5],
    ['forbidden', 403, 6],
    ['not_found', 404, 3],
    ['conflict', 409, 4],
    ['rate_limited', 429, 7],
    ['internal', 500, 1],
    ['ambiguous', 502, 10],
    ['upstream_unavailable', 503, 8],
    ['upstream_timeout', 504, 9],
  ] as const)('%s → HTTP %i, exit code %i', (code: ErrorCode, status, exitCode) => {
    const error = new DomainError(code, 'message');
    expect(error.status).toBe(status);
    expect(exitCodeFor(error)).toBe(exitCode);
    expect(toProblem(error, 'req-1').status).toBe(status);
  });

  it('keeps its cause, field errors and retry hint', () => {
    const cause = new Error('socket hang up');
    const error = new DomainError('rate_limited', 'Slow down.', { cause, retryAfterSeconds: 30 });
    expect(error.cause).toBe(cause);
    expect(error.retryAfterSeconds).toBe(30);
    expect(new DomainError('validation', 'x', { fieldErrors: { email: ['is taken'] } }).fieldErrors).toEqual({
      email: ['is taken'],
    });
  });
});

describe('toProblem', () => {
  it('describes a 4xx error with its own message, field errors and request id (RFC 9457)', () => {
    const error = new DomainError('validation', 'Please correct the marked fields.', {
      fieldErrors: { email: ['must be an email address'], name: ['is required'] },
    });
    expect(toProblem(error, 'req-42')).toEqual({
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: 'Please correct the marked fields.',
      code: 'validation',
      requestId: 'req-42',
      errors: { email: ['must be an email address'], name: ['is required'] },
    });
  });

  it('passes the retry hint on', () => {
    expect(
      toProblem(new DomainError('rate_limited', 'Slow down.', { retryAfterSeconds: 12 }), 'r'),
    ).toMatchObject({
      status: 429,
      title: 'Too Many Requests',
      retryAfterSeconds: 12,
    });
  });

  it('never shows the message or cause of a 5xx error', () => {
    const error = new DomainError(
      'upstream_unavailable',
      'connect ECONNREFUSED 10.1.2.3:443 token=glpat-CANARY',
      {
        cause: new Error('PRIVATE-TOKEN glpat-CANARY'),
        fieldErrors: { x: ['glpat-CANARY'] },
      },
    );
    const problem = toProblem(error, 'req-1');
    expect(problem).toEqual({
      type: 'about:blank',
      title: 'Service Unavailable',
      status: 503,
      detail: 'GitLab is not available right now. Please try again later.',
      code: 'upstream_unavailable',
      requestId: 'req-1',
    });
    expect(JSON.stringify(problem)).not.toContain('CANARY');
  });

  it('turns anything else into a generic internal error', () => {
    for (const thrown of [
      new Error('SELECT * FROM sessions failed at /srv/app.js:12'),
      'a string',
      null,
      { x: 1 },
    ]) {
      expect(toProblem(thrown, 'req-9')).toEqual({
        type: 'about:blank',
        title: 'Internal Server Error',
        status: 500,
        detail: 'An unexpected error occurred.',
        code: 'internal',
        requestId: 'req-9',
      });
    }
  });

  it('keeps the 4xx status of framework errors without repeating their messages', () => {
    const tooLarge = Object.assign(new Error('Request body is too large: {"password":"hunter2"...'), {
      statusCode: 413,
    });
    expect(toProblem(tooLarge, 'r')).toMatchObject({
      status: 413,
      title: 'Payload Too Large',
      detail: 'Payload Too Large.',
      code: 'validation',
    });
    const badJson = Object.assign(new SyntaxError('Unexpected token "h", "hunter2" is not valid JSON'), {
      statusCode: 400,
    });
    expect(toProblem(badJson, 'r')).toMatchObject({ status: 400, detail: 'The request is not valid.' });
    expect(JSON.stringify(toProblem(badJson, 'r'))).not.toContain('hunter2');
    expect(toProblem(Object.assign(new Error('x'), { statusCode: 429 }), 'r')).toMatchObject({
      code: 'rate_limited',
      status: 429,
    });
    expect(toProblem(Object.assign(new Error('x'), { statusCode: 503 }), 'r')).toMatchObject({
      code: 'internal',
      status: 500,
    });
  });

  it('wraps foreign errors as their cause', () => {
    const original = new Error('boom');
    expect(toDomainError(original).cause).toBe(original);
  });
});

describe('exitCodeFor', () => {
  it('gives configuration errors their own exit code', () => {
    expect(exitCodeFor(new ConfigError([{ variable: 'PORT', problem: 'is wrong', fix: 'fix it' }]))).toBe(78);
  });

  it('treats anything unknown as an internal failure', () => {
    expect(exitCodeFor(new Error('x'))).toBe(1);
    expect(exitCodeFor(undefined)).toBe(1);
  });
});
