import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { ConfigError, loadConfig } from '../config/config.js';
import { exitCodeFor } from '../errors.js';
import { createLogger } from '../logging/logger.js';
import { startServer, stopOnSignals } from '../server.js';

/** Whether a GitLab is configured (in the environment, `.env`, or a `GITLAB_URL_FILE`). */
export function gitlabConfigured(env: NodeJS.ProcessEnv, cwd = process.cwd()): boolean {
  if (env.GITLAB_URL || env.GITLAB_URL_FILE) return true;
  const dotenv = join(cwd, '.env');
  if (!existsSync(dotenv)) return false;
  const values = parseDotenv(readFileSync(dotenv));
  return Boolean(values.GITLAB_URL || values.GITLAB_URL_FILE);
}

/** `gitlab-extern serve`: the portal against a real GitLab, configured by the environment. */
export async function runServe(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(
        `${err.message}\n\nSee .env.example for every variable, or run without GITLAB_URL for demo mode.\n`,
      );
      process.exitCode = exitCodeFor(err);
      return;
    }
    throw err;
  }
  const { config, warnings } = loaded;
  const logger = createLogger({ level: config.logLevel });
  for (const w of warnings) logger.warn({ variable: w.variable, fix: w.fix }, w.problem);
  const server = await startServer(config, { logger });
  logger.info({ listen: server.listenUrl, publicUrl: config.publicUrl }, 'gitlab-extern is ready');
  process.stdout.write(`gitlab-extern listening on ${server.listenUrl} (public URL ${config.publicUrl})\n`);
  stopOnSignals(server, logger);
}

/** `npm start` / `gitlab-extern start`: serve when a GitLab is configured, demo mode otherwise. */
export async function runStart(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (gitlabConfigured(env)) return runServe(env);
  // Demo mode brings the simulator; loaded only when needed, so that `serve` starts faster.
  const { startDemo } = await import('../demo/demo.js');
  const demo = await startDemo({ env });
  const logger = createLogger({ level: demo.config.logLevel });
  stopOnSignals({ stop: demo.stop }, logger);
}
