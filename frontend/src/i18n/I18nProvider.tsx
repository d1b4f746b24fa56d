// SPDX-License-Identifier: ISC
// Provides the language to the app, Ant Design's locale and dayjs's locale.
import { useCallback, useMemo, useState, type ReactNode } from 'react';
import { ConfigProvider, theme as antdTheme } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import relativeTime from 'dayjs/plugin/relativeTime';
import { I18nContext, initialLang, saveLang, translate, type Lang } from './context';

dayjs.extend(relativeTime);

/** Wraps the app with the translator and the matching Ant Design locale. */
export function I18nProvider({ children, lang: fixed }: { children: ReactNode; lang?: Lang }) {
  const [lang, setLangState] = useState<Lang>(fixed ?? initialLang());
  dayjs.locale(lang === 'zh' ? 'zh-cn' : 'en');

  const setLang = useCallback((l: Lang) => {
    saveLang(l);
    setLangState(l);
    document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
  }, []);

  const value = useMemo(
    () => ({ lang, setLang, t: (key: Parameters<typeof translate>[1], vars?: Parameters<typeof translate>[2]) => translate(lang, key, vars) }),
    [lang, setLang],
  );

  return (
    <I18nContext.Provider value={value}>
      <ConfigProvider
        locale={lang === 'zh' ? zhCN : enUS}
        theme={{
          algorithm: antdTheme.defaultAlgorithm,
          token: { colorPrimary: '#1668dc', borderRadius: 6, fontSize: 14 },
          components: { Layout: { siderBg: '#001529', headerBg: '#ffffff' } },
        }}
      >
        {children}
      </ConfigProvider>
    </I18nContext.Provider>
  );
}
