// SPDX-License-Identifier: ISC
// "kept 90 days, up to 10,000,000 records": the History page's retention line.
import type { MessageKey } from '../../i18n/en';
import type { Vars } from '../../i18n/context';
import type { Retention } from '../../types/api';

type T = (key: MessageKey, vars?: Vars) => string;

const UNITS: [number, MessageKey, MessageKey][] = [
  [86400, 'unit.day', 'unit.days'],
  [3600, 'unit.hour', 'unit.hours'],
  [60, 'unit.minute', 'unit.minutes'],
  [1, 'unit.second', 'unit.seconds'],
];

/** A duration in the largest unit that divides it: "90 days", "36 hours". */
export function retentionDuration(seconds: number, t: T): string {
  for (const [size, one, many] of UNITS) {
    if (seconds % size === 0) {
      const n = seconds / size;
      return n === 1 ? t(one) : t(many, { n: n.toLocaleString('en-US') });
    }
  }
  return t('unit.seconds', { n: seconds });
}

/** The sentence for the History page. */
export function retentionText(s: Retention, t: T): string {
  const records = s.history_max_records.toLocaleString('en-US');
  if (s.history_retention > 0) {
    const duration = retentionDuration(s.history_retention, t);
    return s.history_max_records > 0 ? t('sessions.kept', { duration, records }) : t('sessions.keptFor', { duration });
  }
  return s.history_max_records > 0 ? t('sessions.keptForeverCap', { records }) : t('sessions.keptForever');
}
