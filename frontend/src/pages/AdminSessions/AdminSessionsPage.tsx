// SPDX-License-Identifier: ISC
// Console sessions: where the user (every user, for an admin) is signed in,
// with a revoke button where the role allows it.
import { useState } from 'react';
import { App, Button, Card, Popconfirm, Space, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { ReloadOutlined, StopOutlined } from '@ant-design/icons';
import { listAdminSessions, revokeAdminSession } from '../../api/adminSessions';
import type { AdminSession } from '../../types/api';
import { useAuth } from '../../auth/context';
import { can } from '../../access';
import { useLoader } from '../../hooks/useLoader';
import { useI18n } from '../../i18n/context';
import { EmptyState, ErrorState } from '../../components/StateView';
import { formatAgo, formatTime } from '../../components/format';

/** The /admin-sessions page. */
export default function AdminSessionsPage() {
  const { t } = useI18n();
  const { message } = App.useApp();
  const { user, role, expire } = useAuth();
  const [busy, setBusy] = useState('');
  const sessions = useLoader((signal) => listAdminSessions(signal), []);

  const onRevoke = async (s: AdminSession) => {
    setBusy(s.handle);
    try {
      await revokeAdminSession(s.handle);
      message.success(t('adminSessions.revoked'));
      // Ending the session in use is a logout.
      if (s.current) expire();
      else sessions.reload(true);
    } catch (e) {
      message.error(t('adminSessions.revokeFailed', { error: e instanceof Error ? e.message : String(e) }));
    } finally {
      setBusy('');
    }
  };

  const columns: ColumnsType<AdminSession> = [
    {
      title: t('audit.user'),
      dataIndex: 'user',
      width: 140,
      render: (v: string, s) => (
        <Space size={6}>
          {v}
          {s.current ? <Tag color="blue">{t('adminSessions.current')}</Tag> : null}
        </Space>
      ),
    },
    { title: t('audit.address'), dataIndex: 'address', width: 160 },
    { title: t('adminSessions.created'), dataIndex: 'created', width: 190, render: (v: number) => <span title={formatAgo(v)}>{formatTime(v)}</span> },
    { title: t('adminSessions.expires'), dataIndex: 'expires', width: 190, render: (v: number) => formatTime(v) },
    { title: t('adminSessions.handle'), dataIndex: 'handle', render: (v: string) => <Typography.Text code>{v}</Typography.Text> },
    {
      title: t('clients.actions'),
      key: 'actions',
      width: 110,
      render: (_: unknown, s) =>
        // Anyone may end their own sessions; others' need the admin role.
        s.user === user || can(role, 'session.revokeOthers') ? (
          <Popconfirm
            title={t('adminSessions.revokeConfirm')}
            okText={t('adminSessions.revoke')}
            cancelText={t('common.cancel')}
            okButtonProps={{ danger: true, ...({ 'data-testid': 'confirm-revoke' } as Record<string, string>) }}
            onConfirm={() => onRevoke(s)}
          >
            <Button size="small" danger icon={<StopOutlined />} loading={busy === s.handle} data-testid={`revoke-${s.handle}`}>
              {t('adminSessions.revoke')}
            </Button>
          </Popconfirm>
        ) : null,
    },
  ];

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <Space wrap style={{ width: '100%', justifyContent: 'space-between' }}>
        <Typography.Title level={3} style={{ margin: 0 }}>
          {t('adminSessions.title')}
        </Typography.Title>
        <Button icon={<ReloadOutlined />} onClick={() => sessions.reload()}>
          {t('common.refresh')}
        </Button>
      </Space>
      <Card size="small" styles={{ body: { padding: 0 } }}>
        {sessions.error ? (
          <ErrorState error={sessions.error} onRetry={() => sessions.reload()} />
        ) : (
          <Table<AdminSession>
            rowKey="handle"
            size="small"
            columns={columns}
            dataSource={sessions.data?.items ?? []}
            loading={sessions.loading}
            scroll={{ x: 900 }}
            pagination={false}
            data-testid="admin-sessions-table"
            locale={{ emptyText: <EmptyState title={t('adminSessions.empty')} /> }}
          />
        )}
      </Card>
    </Space>
  );
}
