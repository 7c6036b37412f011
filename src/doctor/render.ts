import type { CheckResult, CheckStatus } from './check.js';

const SYMBOLS: Record<CheckStatus, string> = { ok: '✓', warn: '!', fail: '✗', skipped: '-' };

const COLORS: Record<CheckStatus, string> = {
  ok: '\u001b[32m',
  warn: '\u001b[33m',
  fail: '\u001b[31m',
  skipped: '\u001b[2m',
};
const RESET = '\u001b[0m';

const FIX_INDENT = '    ';

/**
 * Colour only for a terminal, and never when `NO_COLOR` is set to anything (no-color.org), so that
 * piped output and logs stay plain text.
 */
export function shouldColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

/**
 * Text from GitLab (token and application names, versions, messages) reaches the terminal through
 * the report; control characters are removed so an answer cannot rewrite the screen.
 */
function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}

export interface Summary {
  ok: number;
  warn: number;
  fail: number;
  skipped: number;
}

export function summarize(results: readonly CheckResult[]): Summary {
  const summary: Summary = { ok: 0, warn: 0, fail: 0, skipped: 0 };
  for (const result of results) summary[result.status]++;
  return summary;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function summaryLine({ ok, warn, fail, skipped }: Summary): string {
  const rest = [plural(warn, 'warning'), `${ok} passed`, ...(skipped > 0 ? [`${skipped} skipped`] : [])];
  if (fail === 0) return `No problems found (${rest.join(', ')}).`;
  return `${[plural(fail, 'problem'), ...rest].join(', ')}. Fix the ✗ lines, then run the doctor again.`;
}

/**
 * One line per check (`✓ title: detail`), and under each failure or warning its fix; then a summary.
 * Plain text unless `color`.
 */
export function renderText(results: readonly CheckResult[], options: { color?: boolean } = {}): string {
  const lines: string[] = [];
  for (const result of results) {
    const symbol = SYMBOLS[result.status];
    const mark = options.color ? `${COLORS[result.status]}${symbol}${RESET}` : symbol;
    lines.push(`${mark} ${printable(result.title)}: ${printable(result.detail)}`);
    if (result.fix && (result.status === 'fail' || result.status === 'warn')) {
      result.fix.split('\n').forEach((line, i) => {
        lines.push(`${FIX_INDENT}${i === 0 ? 'Fix: ' : '     '}${printable(line)}`);
      });
    }
  }
  lines.push('', summaryLine(summarize(results)));
  return `${lines.join('\n')}\n`;
}

/** The results as a JSON array of `{id, title, status, detail, fix?}`. */
export function renderJson(results: readonly CheckResult[]): string {
  return `${JSON.stringify(results, null, 2)}\n`;
}
