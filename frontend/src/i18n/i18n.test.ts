// SPDX-License-Identifier: ISC
import { describe, expect, it } from 'vitest';
import en from './en';
import zh from './zh';
import { translate } from './context';

describe('i18n', () => {
  it('has every English key in Chinese, with the same placeholders', () => {
    for (const k of Object.keys(en) as (keyof typeof en)[]) {
      expect(zh[k], k).toBeTruthy();
      const ph = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort().join();
      expect(ph(zh[k]), k).toBe(ph(en[k]));
    }
  });
  it('fills placeholders', () => {
    expect(translate('en', 'clients.disconnectConfirm', { name: 'x' })).toBe('Disconnect client x?');
    expect(translate('zh', 'clients.count', { count: 3 })).toBe('3 个在线');
  });
});
