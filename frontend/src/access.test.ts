// SPDX-License-Identifier: ISC
import { describe, expect, it } from 'vitest';
import { can, parseRole, type Action, type Role } from './access';

const ACTIONS: Action[] = [
  'client.disconnect',
  'mapping.toggle',
  'alert.ack',
  'credential.manage',
  'user.manage',
  'settings.manage',
  'session.revokeOthers',
];

describe('access rules', () => {
  it('lets a viewer change nothing', () => {
    for (const a of ACTIONS) expect(can('viewer', a), a).toBe(false);
  });

  it('lets an operator disconnect, switch mappings and acknowledge alerts only', () => {
    const allowed = ACTIONS.filter((a) => can('operator', a));
    expect(allowed.sort()).toEqual(['alert.ack', 'client.disconnect', 'mapping.toggle']);
  });

  it('lets an admin do everything', () => {
    for (const a of ACTIONS) expect(can('admin', a), a).toBe(true);
  });

  it('grants nothing without a role, and reads unknown roles as viewer', () => {
    expect(can(undefined, 'client.disconnect')).toBe(false);
    const roles: [unknown, Role][] = [
      ['admin', 'admin'],
      ['operator', 'operator'],
      ['viewer', 'viewer'],
      ['root', 'viewer'],
      [undefined, 'viewer'],
      [3, 'viewer'],
    ];
    for (const [s, r] of roles) expect(parseRole(s)).toBe(r);
  });
});
