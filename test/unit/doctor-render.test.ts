import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/doctor/check.js';
import { doctorExitCode } from '../../src/doctor/doctor.js';
import { renderJson, renderText, shouldColor, summarize } from '../../src/doctor/render.js';

const results: CheckResult[] = [
  { id: 'config', title: 'Configuration', status: 'ok', detail: 'every variable is valid' },
  {
    id: 'token.expiry',
    title: 'Admin token expiry',
    status: 'warn',
    detail: 'expires on 2026-12-12 (in 19 days)',
    fix: 'Rotate it.',
  },
  {
    id: 'oauth.discovery',
    title: 'OpenID discovery',
    status: 'fail',
    detail: 'two problems',
    fix: 'First fix.\nSecond fix.',
  },
  { id: 'oauth.scopes', title: 'OAuth scopes', status: 'skipped', detail: 'needs the applications list' },
];

describe('doctor report as text', () => {
  it('prints one line per check with its mark, each fix under its warning or failure, then a summary', () => {
    expect(renderText(results)).toBe(
      [
        '✓ Configuration: every variable is valid',
        '! Admin token expiry: expires on 2026-12-12 (in 19 days)',
        '    Fix: Rotate it.',
        '✗ OpenID discovery: two problems',
        '    Fix: First fix.',
        '         Second fix.',
        '- OAuth scopes: needs the applications list',
        '',
        '1 problem, 1 warning, 1 passed, 1 skipped. Fix the ✗ lines, then run the doctor again.',
        '',
      ].join('\n'),
    );
  });

  it('says so when nothing failed', () => {
    expect(renderText(results.slice(0, 2)).trimEnd().split('\n').at(-1)).toBe(
      'No problems found (1 warning, 1 passed).',
    );
  });

  it('colours only the marks, and only when asked', () => {
    const coloured = renderText(results, { color: true });
    expect(coloured).toContain('\u001b[32m✓\u001b[0m Configuration: every variable is valid');
    expect(coloured).toContain('\u001b[33m!\u001b[0m Admin token expiry');
    expect(coloured).toContain('\u001b[31m✗\u001b[0m OpenID discovery');
    expect(coloured).toContain('\u001b[2m-\u001b[0m OAuth scopes');
    expect(renderText(results)).not.toContain('\u001b');
  });

  it('strips control characters that came from GitLab, so an answer cannot rewrite the terminal', () => {
    const hostile: CheckResult = {
      id: 'token.active',
      title: 'Admin token',
      status: 'fail',
      detail: 'token “\u001b[2J\u001b]0;pwned\u0007” is revoked',
      fix: 'Replace\rit',
    };
    const text = renderText([hostile]);
    const controls = [...text].filter((c) => c !== '\n' && (c < ' ' || c === '\u007f'));
    expect(controls).toEqual([]);
    expect(text).toContain('✗ Admin token: token “ [2J ]0;pwned ” is revoked');
    expect(text).toContain('    Fix: Replace it');
  });
});

describe('doctor report as JSON', () => {
  it('is the list of checks, unchanged', () => {
    expect(JSON.parse(renderJson(results))).toEqual(results);
  });
});

describe('when to use colour', () => {
  it('only on a terminal, and never with NO_COLOR set to anything', () => {
    expect(shouldColor({ isTTY: true }, {})).toBe(true);
    expect(shouldColor({ isTTY: false }, {})).toBe(false);
    expect(shouldColor({}, {})).toBe(false);
    expect(shouldColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(shouldColor({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
  });
});

describe('doctor exit status', () => {
  const ok = (id: string): CheckResult => ({ id, title: id, status: 'ok', detail: '' });
  const failed = (id: string): CheckResult => ({ id, title: id, status: 'fail', detail: '', fix: '' });
  const skip = (id: string): CheckResult => ({ id, title: id, status: 'skipped', detail: '' });
  const warned = (id: string): CheckResult => ({ id, title: id, status: 'warn', detail: '', fix: '' });

  it('is 0 without failures, warnings included', () => {
    expect(doctorExitCode([ok('config'), warned('token.expiry'), skip('oauth.scopes')])).toBe(0);
  });

  it('is 1 for any failure outside the configuration', () => {
    expect(doctorExitCode([ok('config'), failed('gitlab.reachable'), skip('token.active')])).toBe(1);
  });

  it('is 1 for configuration problems when other checks could still run', () => {
    expect(doctorExitCode([failed('config.SESSION_SECRET'), ok('database')])).toBe(1);
  });

  it('is 78 (invalid configuration) when the configuration left nothing else to check', () => {
    expect(
      doctorExitCode([ok('config.sources'), failed('config.GITLAB_URL'), skip('gitlab.reachable')]),
    ).toBe(78);
  });
});

describe('summary counts', () => {
  it('counts each status', () => {
    expect(summarize(results)).toEqual({ ok: 1, warn: 1, fail: 1, skipped: 1 });
  });
});
