// SPDX-License-Identifier: ISC
// Audit log: logins (ok and failed), logouts, disconnects, mapping switches,
// refused calls, user changes; the action filter runs on the server over the
// whole log.
import { useState } from 'react';
import { Button, Card, Select, Space, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { CheckCircleFilled, CloseCircleFilled, ReloadOutlined } from '@ant-design/icons';
import { listAudit } from '../../api/audit';
import type { AuditItem } from '../../types/api';
import { useLoader } from '../../hooks/useLoader';
import { useI18n } from '../../i18n/context';
import { EmptyState, ErrorState } from '../../components/StateView';
import { formatAgo, formatTime } from '../../components/format';

const ACTION_COLORS: Record<string, string> = {
  login: 'blue',
  logout: 'default',
  disconnect: 'volcano',
  forbidden: 'magenta',
  session_revoke: 'orange',
  user_add: 'green',
  user_del: 'red',
  user_passwd: 'gold',
  mapping_disable: 'orange',
  mapping_enable: 'cyan',
  user_role: 'purple',
  user_totp: 'cyan',
  user_totp_off: 'cyan',
  token_add: 'lime',
  token_rotate: 'purple',
  token_revoke: 'magenta',
};

/** The /audit page. */
export default function AuditPage() {
  const { t } = useI18n();
  const [page, setPage] = useState(1);
  const [perPage, setPerPage] = useState(50);
  const [action, setAction] = useState('');
  const audit = useLoader((signal) => listAudit(page, perPage, action, signal), [page, perPage, action]);
  const rows = audit.data?.items ?? [];

  const columns: ColumnsType<AuditItem> = [
    {
      title: t('audit.time'),
      dataIndex: 'time',
      width: 190,
      render: (v: number) => (
        <span title={formatAgo(v)}>{formatTime(v)}</span>
      ),
    },
    { title: t('audit.user'), dataIndex: 'user', width: 120, render: (v: string) => v || '—' },
    { title: t('audit.action'), dataIndex: 'action', width: 130, render: (v: string) => <Tag color={ACTION_COLORS[v] ?? 'default'}>{v}</Tag> },
    {
      title: t('audit.result'),
      dataIndex: 'ok',
      width: 100,
      render: (ok: boolean) =>
        ok ? (
          <Typography.Text type="success"><CheckCircleFilled /> {t('audit.ok')}</Typography.Text>
        ) : (
          <Typography.Text type="danger"><CloseCircleFilled /> {t('audit.failed')}</Typography.Text>
        ),
    },
    { title: t('audit.address'), dataIndex: 'address', width: 160 },
    { title: t('audit.detail'), dataIndex: 'detail', ellipsis: true, render: (v: string) => v || '—' },
  ];

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <Space wrap style={{ width: '100%', justifyContent: 'space-between' }}>
        <Typography.Title level={3} style={{ margin: 0 }}>
          {t('audit.title')}
        </Typography.Title>
        <Space wrap>
          <Select
            value={action}
            onChange={(a: string) => {
              setAction(a);
              setPage(1);
            }}
            style={{ width: 160 }}
            data-testid="audit-action"
            options={[{ value: '', label: t('common.all') }, ...Object.keys(ACTION_COLORS).map((a) => ({ value: a, label: a }))]}
          />
          <Button icon={<ReloadOutlined />} onClick={() => audit.reload()}>
            {t('common.refresh')}
          </Button>
        </Space>
      </Space>
      <Card size="small" styles={{ body: { padding: 0 } }}>
        {audit.error ? (
          <ErrorState error={audit.error} onRetry={() => audit.reload()} />
        ) : (
          <Table<AuditItem>
            rowKey="id"
            size="small"
            columns={columns}
            dataSource={rows}
            loading={audit.loading}
            scroll={{ x: 900 }}
            data-testid="audit-table"
            locale={{ emptyText: <EmptyState title={t('audit.empty')} /> }}
            pagination={{
              current: page,
              pageSize: perPage,
              total: audit.data?.total ?? 0,
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
