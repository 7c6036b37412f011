import type { GitLabAdminApi } from '../gitlab/client.js';
import type { GitLabUser } from '../gitlab/types.js';

/** Why a GitLab user may not sponsor (sign in to the portal). */
export type SponsorRefusal =
  | 'unknown_user'
  | 'bot'
  | 'blocked'
  | 'deactivated'
  | 'inactive'
  | 'external'
  | 'not_in_group';

const BLOCKED_STATES = new Set(['blocked', 'ldap_blocked', 'banned', 'blocked_pending_approval']);

/**
 * Whether `user`, as GitLab reports it right now through the admin token, may sponsor: an active,
 * internal, human account, and a member of `sponsorGroup` (inherited membership counts) when one is
 * configured. Returns the first reason against, or null. Fails closed: a user entity that does not say
 * `external: false` is treated as external.
 */
export async function sponsorRefusal(
  gitlab: Pick<GitLabAdminApi, 'effectiveAccess'>,
  user: GitLabUser | null,
  sponsorGroup: string | undefined,
): Promise<SponsorRefusal | null> {
  if (!user) return 'unknown_user';
  if (user.bot) return 'bot';
  if (BLOCKED_STATES.has(user.state)) return 'blocked';
  if (user.state === 'deactivated') return 'deactivated';
  if (user.state !== 'active') return 'inactive';
  if (user.external !== false) return 'external';
  if (sponsorGroup !== undefined) {
    const level = await gitlab.effectiveAccess({ type: 'group', id: sponsorGroup }, user.id);
    if (level <= 0) return 'not_in_group';
  }
  return null;
}

/** What the sponsor is told, in a sentence. */
export function refusalMessage(refusal: SponsorRefusal, sponsorGroup: string | undefined): string {
  switch (refusal) {
    case 'unknown_user':
      return 'GitLab no longer has this account.';
    case 'bot':
      return 'Bot and service accounts cannot sponsor collaborators.';
    case 'blocked':
      return 'Your GitLab account is blocked.';
    case 'deactivated':
      return 'Your GitLab account is deactivated. Sign in to GitLab itself once to reactivate it, then try again.';
    case 'inactive':
      return 'Your GitLab account is not active.';
    case 'external':
      return 'Your GitLab account is an external account. Only internal GitLab users can sponsor collaborators.';
    case 'not_in_group':
      return `Only members of the GitLab group “${sponsorGroup ?? ''}” can sponsor collaborators.`;
  }
}

/** The audit reason when a signed-in sponsor loses the right to sponsor. */
export function terminationReason(refusal: SponsorRefusal): string {
  switch (refusal) {
    case 'unknown_user':
      return 'gitlab_user_missing';
    case 'not_in_group':
      return 'sponsor_group_left';
    default:
      return `gitlab_${refusal}`;
  }
}
