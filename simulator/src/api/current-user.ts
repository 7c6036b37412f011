import { userPublic, userWithAdmin } from '../entities/user.js';
import type { ApiRoute } from '../http/app.js';

/** `GET /user` (`lib/api/users.rb`): admins get `UserWithAdmin`, everyone else `UserPublic` (no `is_admin`). */
export const currentUserRoutes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/user',
    readUser: true,
    auth: 'required',
    handler: ({ store, caller, isAdmin }) => {
      const user = caller!.user;
      return isAdmin ? userWithAdmin(store, user) : userPublic(store, user);
    },
  },
];
