// SPDX-License-Identifier: ISC
// The masters of the cluster: status, last beat, clients, connections,
// version.  While the store is down the page says so and shows no table:
// the last answer would be stale data shown as live.
import { useEffect } from 'react';
import { Alert, Button, Card, Space, Table, Tag, Tooltip, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { ReloadOutlined } from '@ant-design/icons';
import { isStoreUnavailable, listNodes } from '../../api/nodes';
import type { ClusterNode } from '../../types/api';
import { useLoader } from '../../hooks/useLoader';
import { useI18n } from '../../i18n/context';
import { EmptyState, ErrorState } from '../../components/StateView';
import { formatAgo, formatTime } from '../../components/format';

const POLL_MS = 5000;

/** The /nodes page. */
export default function NodesPage() {
  const { t } = useI18n();
  const nodes = useLoader((signal) => listNodes(signal), []);
  const { reload } = nodes;

  // Node status changes without events: poll quietly.
  useEffect(() => {
    const id = setInterval(() => reload(true), POLL_MS);
    return () => clearInterval(id);
  }, [reload]);

  const columns: ColumnsType<ClusterNode> = [
    { title: t('nodes.name'), dataIndex: 'name', width: 160, render: (v: string) => <strong>{v}</strong> },
    {
      title: t('nodes.status'),
      dataIndex: 'status',
      width: 110,
      render: (v: ClusterNode['status']) => (
        <Tag color={v === 'online' ? 'success' : 'error'} data-testid={`node-status-${v}`}>
          {t(v === 'online' ? 'nodes.online' : 'nodes.offline')}
        </Tag>
      ),
    },
    { title: t('nodes.address'), dataIndex: 'advertise_addr', width: 180 },
    {
      title: t('nodes.lastSeen'),
      dataIndex: 'last_seen',
      width: 160,
      render: (v: number) => <Tooltip title={formatTime(v)}>{formatAgo(v)}</Tooltip>,
    },
    { title: t('nodes.clients'), dataIndex: 'clients', width: 100, align: 'right' },
    { title: t('nodes.connections'), dataIndex: 'connections', width: 120, align: 'right' },
    { title: t('nodes.version'), dataIndex: 'version', width: 120 },
  ];

  const unavailable = isStoreUnavailable(nodes.error);
  let body;
  if (unavailable) {
    body = (
      <Alert
        type="error"
        showIcon
        data-testid="store-unavailable"
        title={t('nodes.storeUnavailable')}
        description={t('nodes.storeUnavailableHelp')}
        action={
          <Button size="small" icon={<ReloadOutlined />} onClick={() => reload()}>
            {t('common.retry')}
          </Button>
        }
      />
    );
  } else if (nodes.error) {
    body = <ErrorState error={nodes.error} onRetry={() => reload()} />;
  } else {
    body = (
      <Table<ClusterNode>
        rowKey="name"
        size="middle"
        columns={columns}
        dataSource={nodes.data ?? []}
        loading={nodes.loading && !nodes.data}
        pagination={false}
        scroll={{ x: 950 }}
        data-testid="nodes-table"
        locale={{ emptyText: <EmptyState title={t('nodes.empty')} /> }}
      />
    );
  }

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <Space wrap style={{ width: '100%', justifyContent: 'space-between' }}>
        <Typography.Title level={3} style={{ margin: 0 }}>
          {t('nodes.title')}
        </Typography.Title>
        <Button icon={<ReloadOutlined />} onClick={() => reload()} data-testid="nodes-refresh">
          {t('common.refresh')}
        </Button>
      </Space>
      <Card size="small" styles={{ body: { padding: unavailable ? 12 : 0 } }}>
        {body}
      </Card>
    </Space>
  );
}
