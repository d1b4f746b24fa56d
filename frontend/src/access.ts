// SPDX-License-Identifier: ISC
// Who may do what in the console: the one place the front end decides it.
// The server enforces the same rules (admin/src/access.c); this only hides
// or disables what the signed-in role would be refused.
import { useAuth } from './auth/context';

export type Role = 'viewer' | 'operator' | 'admin';

/** Things a user can do that change state. */
export type Action =
  | 'client.disconnect'
  | 'mapping.toggle'
  | 'alert.ack'
  | 'credential.manage'
  | 'user.manage'
  | 'settings.manage'
  | 'session.revokeOthers';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** The least role each action needs. */
const NEEDS: Record<Action, Role> = {
  'client.disconnect': 'operator',
  'mapping.toggle': 'operator',
  'alert.ack': 'operator',
  'credential.manage': 'admin',
  'user.manage': 'admin',
  'settings.manage': 'admin',
  'session.revokeOthers': 'admin',
};

/** Reads a role from the API; anything unknown is the least privileged. */
export function parseRole(s: unknown): Role {
  return s === 'operator' || s === 'admin' ? s : 'viewer';
}

/** True when role may perform action. */
export function can(role: Role | undefined, action: Action): boolean {
  return role !== undefined && RANK[role] >= RANK[NEEDS[action]];
}

/** can() for the signed-in user. */
export function useCan(action: Action): boolean {
  return can(useAuth().role, action);
}
