// SPDX-License-Identifier: ISC
// The add-credential form's values and their API body.
import type { NewToken } from '../../types/api';

/** What the add form holds. */
export interface AddForm {
  name: string;
  ports?: string;
  expires?: string;
  max_mappings?: number | null;
  allow?: string[];
  deny?: string[];
}

/** The form's values as the API body (empty fields left out). */
export function toNewToken(v: AddForm): NewToken {
  const t: NewToken = { name: v.name.trim() };
  if (v.ports?.trim()) t.ports = v.ports.trim();
  if (v.expires?.trim()) t.expires = v.expires.trim();
  if (v.max_mappings) t.max_mappings = v.max_mappings;
  if (v.allow?.length) t.allow = v.allow.map((s) => s.trim()).filter(Boolean);
  if (v.deny?.length) t.deny = v.deny.map((s) => s.trim()).filter(Boolean);
  return t;
}
