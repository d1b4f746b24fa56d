// SPDX-License-Identifier: ISC
// Language state shared by the whole console (English / Chinese).
import { createContext, useContext } from 'react';
import en, { type MessageKey } from './en';
import zh from './zh';

export type Lang = 'en' | 'zh';
export type Vars = Record<string, string | number>;

export interface I18n {
  lang: Lang;
  setLang: (l: Lang) => void;
  t: (key: MessageKey, vars?: Vars) => string;
}

const dicts: Record<Lang, Record<MessageKey, string>> = { en, zh };

/** Translates one key, filling {name} placeholders. */
export function translate(lang: Lang, key: MessageKey, vars?: Vars): string {
  const s = dicts[lang][key] ?? en[key] ?? key;
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));
}

const STORAGE_KEY = 'gotunnel.lang';

/** The language chosen before, else the browser's. */
export function initialLang(): Lang {
  try {
    const saved = window.localStorage.getItem(STORAGE_KEY);
    if (saved === 'en' || saved === 'zh') return saved;
  } catch {
    /* storage may be disabled */
  }
  return navigator.language?.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

/** Remembers the chosen language. */
export function saveLang(l: Lang): void {
  try {
    window.localStorage.setItem(STORAGE_KEY, l);
  } catch {
    /* ignore */
  }
}

export const I18nContext = createContext<I18n>({
  lang: 'en',
  setLang: () => undefined,
  t: (key, vars) => translate('en', key, vars),
});

/** The console's translator and language switch. */
export function useI18n(): I18n {
  return useContext(I18nContext);
}
