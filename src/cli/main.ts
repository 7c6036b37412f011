import { Command, InvalidArgumentError } from 'commander';
import { DOCTOR_HELP, runDoctorCommand } from '../doctor/doctor.js';
import {
  AUDIT_VERIFY_HELP,
  runAuditVerify,
  runSessionsRevoke,
  SESSIONS_REVOKE_HELP,
} from './admin-commands.js';
import { runServe, runStart } from './portal-commands.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number 0-65535');
  return n;
}

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number');
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function buildProgram(): Command {
  const program = new Command('gitlab-extern')
    .description('Sponsor external collaborator accounts on a self-managed GitLab.')
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(str) });

  program
    .command('start')
    .description('run the portal: against the configured GitLab, or in demo mode when none is configured')
    .action(() => runStart());

  program
    .command('serve')
    .description('run the portal against the GitLab configured in the environment (see .env.example)')
    .action(() => runServe());

  program
    .command('doctor')
    .description('check the configuration, GitLab, the admin token, the OAuth application and the database')
    .option('--json', 'print the results as a JSON array of {id, title, status, detail, fix}', false)
    .addHelpText('after', DOCTOR_HELP)
    .action(async (opts: { json: boolean }) => {
      process.exitCode = await runDoctorCommand(process.env, { json: opts.json, out: process.stdout });
    });

  const io = { env: process.env, stdout: process.stdout, stderr: process.stderr };
  program
    .command('sessions')
    .description('manage sign-in sessions')
    .command('revoke')
    .description("end one user's sessions, or everyone's, and revoke their GitLab sign-in grants")
    .option('--user <id|username>', 'the GitLab user id or username whose sessions end')
    .option('--all', 'end every session', false)
    .option('--json', 'print the result as JSON: {ended, user} or {ended, all}', false)
    .addHelpText('after', SESSIONS_REVOKE_HELP)
    .action(async (opts: { user?: string; all: boolean; json: boolean }) => {
      process.exitCode = await runSessionsRevoke(opts, io);
    });

  program
    .command('audit')
    .description('the audit log')
    .command('verify')
    .description('check that the audit log is complete and unaltered')
    .option('--json', 'print the result as JSON: {ok, count[, firstBrokenSeq, reason]}', false)
    .addHelpText('after', AUDIT_VERIFY_HELP)
    .action(async (opts: { json: boolean }) => {
      process.exitCode = await runAuditVerify(opts, io);
    });

  program
    .command('sim')
    .description('run the GitLab simulator (REST API v4 + OAuth 2.0/OIDC provider) for demos and tests')
    .option('--port <n>', 'port to listen on (0 picks a free port)', port, 0)
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .option('--admin-token <token>', "root's admin token (default: generated; or GITLAB_SIM_ADMIN_TOKEN)")
    .option('--seed <file>', 'JSON seed: users, groups, projects, memberships, OAuth applications')
    .option('--generate-users <n>', 'add n generated users after seeding', count)
    .option('--public-url <url>', 'URL to advertise when behind a proxy')
    .option('--strict', 'answer 501 and log requests to endpoints the simulator does not implement', false)
    .option(
      '--setting <key=value>',
      'override an instance setting, e.g. userDefaultExternal=true',
      collect,
      [],
    )
    .action(async (opts) => {
      // Loaded here, not at the top: the other commands, `serve` above all, start faster without it.
      const { parseSettingOverrides, runSimulatorProcess } = await import('@gitlab-extern/simulator');
      await runSimulatorProcess({
        port: opts.port,
        host: opts.host,
        adminToken: opts.adminToken ?? process.env.GITLAB_SIM_ADMIN_TOKEN,
        seed: opts.seed,
        generateUsers: opts.generateUsers,
        publicUrl: opts.publicUrl,
        strict: opts.strict,
        settings: parseSettingOverrides(opts.setting),
      });
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv, { from: 'user' });
}
