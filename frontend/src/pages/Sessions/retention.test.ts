// SPDX-License-Identifier: ISC
import { describe, expect, it } from 'vitest';
import { translate } from '../../i18n/context';
import type { MessageKey } from '../../i18n/en';
import type { Vars } from '../../i18n/context';
import { retentionText } from './retention';

const en = (k: MessageKey, v?: Vars) => translate('en', k, v);
const zh = (k: MessageKey, v?: Vars) => translate('zh', k, v);
const defaults = { history_retention: 7776000, history_max_records: 10000000, audit_retention: 31536000 };

describe('retentionText', () => {
  it('says the defaults in both languages', () => {
    expect(retentionText(defaults, en)).toBe('kept 90 days, up to 10,000,000 records');
    expect(retentionText(defaults, zh)).toBe('保留 90 天，最多 10,000,000 条记录');
  });

  it('says forever for 0, and leaves out a cap of 0', () => {
    expect(retentionText({ ...defaults, history_retention: 0, history_max_records: 0 }, en)).toBe('kept forever');
    expect(retentionText({ ...defaults, history_retention: 0, history_max_records: 0 }, zh)).toBe('永久保留');
    expect(retentionText({ ...defaults, history_retention: 0 }, en)).toBe('kept forever, up to 10,000,000 records');
    expect(retentionText({ ...defaults, history_max_records: 0 }, en)).toBe('kept 90 days');
  });

  it('picks the largest whole unit', () => {
    expect(retentionText({ ...defaults, history_retention: 86400, history_max_records: 0 }, en)).toBe('kept 1 day');
    expect(retentionText({ ...defaults, history_retention: 129600, history_max_records: 0 }, en)).toBe('kept 36 hours');
    expect(retentionText({ ...defaults, history_retention: 2, history_max_records: 500 }, en)).toBe('kept 2 seconds, up to 500 records');
    expect(retentionText({ ...defaults, history_retention: 300, history_max_records: 0 }, zh)).toBe('保留 5 分钟');
  });
});
