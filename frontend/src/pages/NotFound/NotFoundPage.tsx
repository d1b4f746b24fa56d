// SPDX-License-Identifier: ISC
// Any unknown console path.
import { Link } from 'react-router';
import { Button, Result } from 'antd';
import { useI18n } from '../../i18n/context';

/** 404 inside the console frame. */
export default function NotFoundPage() {
  const { t } = useI18n();
  return (
    <Result
      status="404"
      title="404"
      subTitle={t('notFound.title')}
      extra={
        <Link to="/">
          <Button type="primary">{t('notFound.back')}</Button>
        </Link>
      }
    />
  );
}
