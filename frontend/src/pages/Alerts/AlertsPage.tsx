// SPDX-License-Identifier: ISC
// Alerts: what the master raised for its webhook receivers ([alert.NAME] in
// gotunnel.ini), firing ones first in mind, past ones below, paged on the server.
import { useState } from 'react';
import { Badge, Button, Card, Segmented, Space, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { ReloadOutlined } from '@ant-design/icons';
import { listAlerts } from '../../api/alerts';
import type { AlertItem, AlertState } from '../../types/api';
import { useLoader } from '../../hooks/useLoader';
import { useI18n } from '../../i18n/context';
import type { MessageKey } from '../../i18n/en';
import { EmptyState, ErrorState } from '../../components/StateView';
import { formatAgo, formatBytes, formatDuration, formatTime } from '../../components/format';

const ALERT_COLORS: Record<string, string> = {
  client_offline: 'volcano',
  traffic_quota: 'gold',
  auth_failures: 'magenta',
  node_offline: 'red',
};

/** Renders an alert's detail object as short "key: value" tags. */
function Detail({ detail }: { detail: Record<string, string | number> }) {
  const keys = Object.keys(detail);
  if (keys.length === 0) return <>—</>;
  return (
    <Space size={4} wrap>
      {keys.map((k) => {
        const v = detail[k];
        const shown =
          typeof v === 'number' && /bytes/.test(k) ? formatBytes(v) : typeof v === 'number' && /last_seen/.test(k) ? formatTime(v) : String(v);
        return (
          <Tag key={k} bordered={false}>
            {k}: {shown}
          </Tag>
        );
      })}
    </Space>
  );
}

/** The /alerts page. */
export default function AlertsPage() {
  const { t } = useI18n();
  const [page, setPage] = useState(1);
  const [perPage, setPerPage] = useState(50);
  const [state, setState] = useState<AlertState>('');
  const alerts = useLoader((signal) => listAlerts(page, perPage, state, signal), [page, perPage, state]);
  const rows = alerts.data?.items ?? [];
  const firing = alerts.data?.firing ?? 0;
  const label = (a: string) => (ALERT_COLORS[a] ? t(('alerts.' + a) as MessageKey) : a);

  const columns: ColumnsType<AlertItem> = [
    {
      title: t('alerts.state'),
      dataIndex: 'state',
      width: 110,
      render: (s: AlertItem['state']) =>
        s === 'firing' ? <Badge status="error" text={t('alerts.firing')} /> : <Badge status="success" text={t('alerts.resolved')} />,
    },
    {
      title: t('alerts.alert'),
      dataIndex: 'alert',
      width: 140,
      render: (a: string) => <Tag color={ALERT_COLORS[a] ?? 'default'}>{label(a)}</Tag>,
    },
    { title: t('alerts.key'), dataIndex: 'key', width: 180 },
    {
      title: t('alerts.since'),
      dataIndex: 'since',
      width: 190,
      render: (v: number) => <span title={formatAgo(v)}>{formatTime(v)}</span>,
    },
    {
      title: t('alerts.duration'),
      key: 'duration',
      width: 110,
      render: (_: unknown, r: AlertItem) => formatDuration((r.end || Math.floor(Date.now() / 1000)) - r.since),
    },
    { title: t('alerts.receiver'), dataIndex: 'receiver', width: 110 },
    { title: t('alerts.detail'), dataIndex: 'detail', render: (d: AlertItem['detail']) => <Detail detail={d ?? {}} /> },
  ];

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <Space wrap style={{ width: '100%', justifyContent: 'space-between' }}>
        <Space align="center" size={12}>
          <Typography.Title level={3} style={{ margin: 0 }}>
            {t('alerts.title')}
          </Typography.Title>
          {alerts.data &&
            (firing > 0 ? (
              <Tag color="error" data-testid="alerts-firing">{t('alerts.firingNow', { count: firing })}</Tag>
            ) : (
              <Tag color="success" data-testid="alerts-firing">{t('alerts.noneFiring')}</Tag>
            ))}
        </Space>
        <Space wrap>
          <Segmented<AlertState>
            value={state}
            onChange={(v) => {
              setState(v);
              setPage(1);
            }}
            data-testid="alerts-state"
            options={[
              { value: '', label: t('alerts.filterAll') },
              { value: 'firing', label: t('alerts.filterFiring') },
              { value: 'resolved', label: t('alerts.filterResolved') },
            ]}
          />
          <Button icon={<ReloadOutlined />} onClick={() => alerts.reload()}>
            {t('common.refresh')}
          </Button>
        </Space>
      </Space>
      <Card size="small" styles={{ body: { padding: 0 } }}>
        {alerts.error ? (
          <ErrorState error={alerts.error} onRetry={() => alerts.reload()} />
        ) : (
          <Table<AlertItem>
            rowKey="id"
            size="small"
            columns={columns}
            dataSource={rows}
            loading={alerts.loading}
            scroll={{ x: 1000 }}
            data-testid="alerts-table"
            locale={{ emptyText: <EmptyState title={t('alerts.empty')} /> }}
            pagination={{
              current: page,
              pageSize: perPage,
              total: alerts.data?.total ?? 0,
              showSizeChanger: true,
              pageSizeOptions: ['20', '50', '100', '200'],
              showTotal: (total) => t('common.total', { total }),
              onChange: (p, s) => {
                setPage(s !== perPage ? 1 : p);
                setPerPage(s);
              },
            }}
          />
        )}
      </Card>
    </Space>
  );
}
