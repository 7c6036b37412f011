import type { ApiRoute } from '../http/app.js';

/** `lib/api/version.rb` / `lib/api/metadata.rb`: any authenticated user, `read_user` is not enough. */
export const instanceRoutes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/version',
    auth: 'required',
    handler: ({ sim }) => ({ version: sim.settings.version, revision: sim.settings.revision }),
  },
  {
    method: 'GET',
    path: '/metadata',
    auth: 'required',
    handler: ({ sim }) => ({
      version: sim.settings.version,
      revision: sim.settings.revision,
      kas: { enabled: false, externalUrl: null, externalK8sProxyUrl: null, version: null },
      enterprise: false,
    }),
  },
];
