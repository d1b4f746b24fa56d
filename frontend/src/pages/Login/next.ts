// SPDX-License-Identifier: ISC
// Where to go after login.

/** Only same-site paths are followed after login (no open redirect). */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || next.startsWith('/login')) return '/';
  return next;
}
