// SPDX-License-Identifier: ISC
// The English / Chinese switch (header and login page).
import { Segmented } from 'antd';
import { useI18n, type Lang } from '../i18n/context';

/** A two-way switch of the console's language. */
export function LangSwitch() {
  const { t, lang, setLang } = useI18n();
  return (
    <Segmented
      size="small"
      value={lang}
      onChange={(v) => setLang(v as Lang)}
      options={[
        { label: 'EN', value: 'en' },
        { label: '中文', value: 'zh' },
      ]}
      aria-label={t('header.language')}
      data-testid="lang-switch"
    />
  );
}
