// SPDX-License-Identifier: ISC
// Loading, error and empty states shared by every page (no blank screens).
import type { ReactNode } from 'react';
import { Alert, Button, Empty, Result, Skeleton } from 'antd';
import { ReloadOutlined } from '@ant-design/icons';
import { useI18n } from '../i18n/context';

/** An error box with the server's message and a retry button. */
export function ErrorState({ error, onRetry }: { error: Error; onRetry?: () => void }) {
  const { t } = useI18n();
  return (
    <Result
      status="warning"
      title={t('common.error')}
      subTitle={error.message}
      data-testid="error-state"
      extra={
        onRetry ? (
          <Button icon={<ReloadOutlined />} onClick={onRetry}>
            {t('common.retry')}
          </Button>
        ) : null
      }
    />
  );
}

/** An empty box with a title and an optional hint. */
export function EmptyState({ title, hint }: { title: ReactNode; hint?: ReactNode }) {
  return (
    <Empty
      data-testid="empty-state"
      image={Empty.PRESENTED_IMAGE_SIMPLE}
      description={
        <span>
          <div>{title}</div>
          {hint ? <div style={{ color: 'rgba(0,0,0,0.45)', fontSize: 12, marginTop: 4 }}>{hint}</div> : null}
        </span>
      }
    />
  );
}

/** Skeleton while the first load runs. */
export function LoadingState({ rows = 4 }: { rows?: number }) {
  return <Skeleton active paragraph={{ rows }} data-testid="loading-state" />;
}

/** A slim warning above data that could not be refreshed (the old data stays visible). */
export function StaleBanner({ error, onRetry }: { error: Error | undefined; onRetry?: () => void }) {
  const { t } = useI18n();
  if (!error) return null;
  return (
    <Alert
      type="warning"
      showIcon
      data-testid="stale-banner"
      title={`${t('common.stale')}: ${error.message}`}
      action={
        onRetry ? (
          <Button size="small" onClick={onRetry}>
            {t('common.retry')}
          </Button>
        ) : null
      }
    />
  );
}
