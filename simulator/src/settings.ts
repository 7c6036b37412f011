/**
 * Instance settings (GitLab's `application_settings`) that change API behaviour. All can be changed
 * at run time through the handle or `PUT /-/sim/settings`.
 */
export interface SimSettings {
  /** `user_default_external`: new users are external unless `external` is passed. */
  userDefaultExternal: boolean;
  /** `user_default_internal_regex`: only used when `userDefaultExternal` is on. */
  userDefaultInternalRegex: string | null;
  /** `deactivate_dormant_users_period` in days (the deactivate endpoint's activity window). */
  deactivateDormantUsersPeriod: number;
  /** `default_projects_limit`. */
  defaultProjectsLimit: number;
  /** `can_create_group` instance default. */
  canCreateGroup: boolean;
  /** `user_defaults_to_private_profile`. */
  userDefaultsToPrivateProfile: boolean;
  /** `minimum_password_length`. */
  minimumPasswordLength: number;
  /** Admin Mode: admin API calls need a token with the `admin_mode` scope. */
  adminMode: boolean;
  /** `require_admin_approval_after_user_signup` (affects web sign-up only; kept for completeness). */
  requireAdminApprovalAfterUserSignup: boolean;
  /** `ropc_without_client_credentials`: password grant without client authentication. */
  ropcWithoutClientCredentials: boolean;
  /** `openid_id_token_expire_in_seconds`. */
  idTokenExpireInSeconds: number;
  /** Access-token lifetime (`access_token_expires_in`). */
  accessTokenExpiresIn: number;
  /** How long after `DELETE /users/:id` the user stays visible (deletion runs in a background worker). */
  userDeletionDelayMs: number;
  /** Let anyone read captured mail at `/-/sim/mail` (demo mode on a workstation); otherwise admins only. */
  publicMailViewer: boolean;
  /** GitLab version reported by `/version`. */
  version: string;
  revision: string;
}

export function defaultSettings(): SimSettings {
  return {
    userDefaultExternal: false,
    userDefaultInternalRegex: null,
    deactivateDormantUsersPeriod: 90,
    defaultProjectsLimit: 100_000,
    canCreateGroup: true,
    userDefaultsToPrivateProfile: false,
    minimumPasswordLength: 8,
    adminMode: false,
    requireAdminApprovalAfterUserSignup: false,
    ropcWithoutClientCredentials: true,
    idTokenExpireInSeconds: 120,
    accessTokenExpiresIn: 7200,
    userDeletionDelayMs: 0,
    publicMailViewer: false,
    version: '18.5.1',
    revision: 'a1b2c3d4e5f',
  };
}
