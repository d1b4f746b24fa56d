// SPDX-License-Identifier: ISC
// One client: its mappings and its live public connections, updated live.
import { useEffect, useRef, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { App, Badge, Button, Card, Col, Descriptions, Popconfirm, Result, Row, Space, Statistic, Table, Tag, Tooltip, Typography } from 'antd';
import { ArrowLeftOutlined, DisconnectOutlined, HistoryOutlined, ReloadOutlined } from '@ant-design/icons';
import { disconnectClient, getClient } from '../../api/clients';
import { useCan } from '../../access';
import { ApiError } from '../../api/http';
import type { ConnEvent, LiveConn, Mapping } from '../../types/api';
import { useLoader } from '../../hooks/useLoader';
import { useEvents } from '../../hooks/events';
import { useI18n } from '../../i18n/context';
import { EmptyState, ErrorState, LoadingState, StaleBanner } from '../../components/StateView';
import { formatAgo, formatBytes, formatTime } from '../../components/format';
import MappingSwitch from './MappingSwitch';

const QUIET_REFRESH_MS = 5000;

/** The /clients/:id page. */
export default function ClientDetailPage() {
  const { id = '' } = useParams();
  const { t } = useI18n();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const client = useLoader((signal) => getClient(id, signal), [id]);
  const [offline, setOffline] = useState(false);
  const [busy, setBusy] = useState(false);
  const mayDisconnect = useCan('client.disconnect');
  const mayToggle = useCan('mapping.toggle');
  const soon = useRef<ReturnType<typeof setTimeout> | null>(null);
  const { reload } = client;

  useEffect(() => {
    const x = setInterval(() => reload(true), QUIET_REFRESH_MS);
    return () => {
      clearInterval(x);
      if (soon.current) clearTimeout(soon.current);
    };
  }, [reload]);

  const reloadSoon = () => {
    if (soon.current) clearTimeout(soon.current);
    soon.current = setTimeout(() => reload(true), 250);
  };

  useEvents((name, data) => {
    if (name === 'client_offline' && (data as { id: string }).id === id) setOffline(true);
    else if (name === 'client_online' && (data as { id: string }).id === id) {
      setOffline(false);
      reloadSoon();
    } else if ((name === 'conn_open' || name === 'conn_close') && (data as ConnEvent).client_id === id) reloadSoon();
  });

  const notFound = client.error instanceof ApiError && client.error.status === 404;
  const c = client.data;

  const onDisconnect = async () => {
    if (!c) return;
    setBusy(true);
    try {
      await disconnectClient(c.id);
      message.success(t('clients.disconnected', { name: c.name }));
      navigate('/clients');
    } catch (e) {
      message.error(t('clients.disconnectFailed', { error: e instanceof Error ? e.message : String(e) }));
    } finally {
      setBusy(false);
    }
  };

  const historyLink = `/sessions?kind=sessions&client=${encodeURIComponent(id)}`;

  if (client.loading && !c) return <Card><LoadingState rows={8} /></Card>;
  if ((notFound || offline) && (!c || notFound)) {
    return (
      <Card>
        <Result
          status="info"
          title={t('detail.offline')}
          subTitle={<Typography.Text code>{id}</Typography.Text>}
          data-testid="client-offline"
          extra={[
            <Link key="back" to="/clients">
              <Button icon={<ArrowLeftOutlined />}>{t('common.back')}</Button>
            </Link>,
            <Link key="hist" to={historyLink}>
              <Button type="primary" icon={<HistoryOutlined />}>
                {t('detail.history')}
              </Button>
            </Link>,
          ]}
        />
      </Card>
    );
  }
  if (client.error && !c) return <Card><ErrorState error={client.error} onRetry={() => client.reload()} /></Card>;
  if (!c) return <Card><EmptyState title={t('common.empty')} /></Card>;

  const conns = c.conns ?? [];
  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <Space wrap style={{ width: '100%', justifyContent: 'space-between' }}>
        <Space align="center" wrap>
          <Link to="/clients">
            <Button type="text" icon={<ArrowLeftOutlined />} aria-label={t('common.back')} />
          </Link>
          <Typography.Title level={3} style={{ margin: 0 }} data-testid="detail-title">
            {t('detail.title', { name: c.name })}
          </Typography.Title>
          {offline ? <Badge status="default" text={t('status.closed')} /> : <Badge status="success" text={t('status.online')} />}
        </Space>
        <Space wrap>
          <Link to={historyLink}>
            <Button icon={<HistoryOutlined />}>{t('detail.history')}</Button>
          </Link>
          <Button icon={<ReloadOutlined />} onClick={() => client.reload()}>
            {t('common.refresh')}
          </Button>
          {mayDisconnect ? (
            <Popconfirm
              title={t('clients.disconnectConfirm', { name: c.name })}
              description={t('clients.disconnectHelp')}
              okText={t('clients.disconnect')}
              cancelText={t('common.cancel')}
              okButtonProps={{ danger: true }}
              onConfirm={onDisconnect}
              disabled={offline}
            >
              <Button danger icon={<DisconnectOutlined />} loading={busy} disabled={offline}>
                {t('clients.disconnect')}
              </Button>
            </Popconfirm>
          ) : null}
        </Space>
      </Space>

      {client.error && !notFound ? <StaleBanner error={client.error} onRetry={() => client.reload()} /> : null}
      <Row gutter={[16, 16]}>
        <Col xs={12} md={6}>
          <Card size="small"><Statistic title={t('clients.liveConns')} value={c.live_conns} /></Card>
        </Col>
        <Col xs={12} md={6}>
          <Card size="small"><Statistic title={t('clients.mappings')} value={c.mappings.length} /></Card>
        </Col>
        <Col xs={12} md={6}>
          <Card size="small"><Statistic title={t('clients.bytesIn')} value={formatBytes(c.bytes_in)} /></Card>
        </Col>
        <Col xs={12} md={6}>
          <Card size="small"><Statistic title={t('clients.bytesOut')} value={formatBytes(c.bytes_out)} /></Card>
        </Col>
      </Row>

      <Card size="small">
        <Descriptions size="small" column={{ xs: 1, sm: 2, lg: 3 }}>
          <Descriptions.Item label={t('clients.id')}>
            <Typography.Text code copyable>{c.id}</Typography.Text>
          </Descriptions.Item>
          <Descriptions.Item label={t('clients.address')}>{c.address}</Descriptions.Item>
          <Descriptions.Item label={t('clients.worker')}>{c.worker}</Descriptions.Item>
          <Descriptions.Item label={t('clients.credential')}>
            <span data-testid="client-credential">{c.credential || t('clients.sharedToken')}</span>
          </Descriptions.Item>
          <Descriptions.Item label={t('clients.since')}>
            {formatTime(c.connected_since)} ({formatAgo(c.connected_since)})
          </Descriptions.Item>
          <Descriptions.Item label={t('clients.heartbeat')}>
            {formatTime(c.last_heartbeat)} ({formatAgo(c.last_heartbeat)})
          </Descriptions.Item>
        </Descriptions>
      </Card>

      <Card size="small" title={t('detail.mappings')}>
        <Table<Mapping>
          rowKey="name"
          size="small"
          dataSource={c.mappings}
          pagination={false}
          scroll={{ x: 760 }}
          data-testid="detail-mappings"
          locale={{ emptyText: <EmptyState title={t('detail.noMappings')} /> }}
          columns={[
            { title: t('mapping.state'), key: 'enabled', render: (_: unknown, m) => <MappingSwitch mapping={m} disabled={offline || !mayToggle || !['tcp', 'udp'].includes(m.type ?? 'tcp')} onChanged={reloadSoon} /> },
            { title: t('detail.mappingName'), dataIndex: 'name' },
            { title: t('mapping.type'), key: 'type', render: (_: unknown, m) => <Tag color={(m.type ?? 'tcp') === 'tcp' ? 'blue' : 'purple'}>{m.type ?? 'tcp'}</Tag> },
            { title: t('mapping.domains'), key: 'domains', render: (_: unknown, m) => (m.domains?.length ? m.domains.join(', ') : '—') },
            { title: t('detail.remotePort'), dataIndex: 'remote_port', render: (v: number) => <Typography.Text strong>:{v}</Typography.Text> },
            { title: t('detail.local'), key: 'local', render: (_: unknown, m) => `${m.local_ip}:${m.local_port}` },
            { title: t('clients.liveConns'), dataIndex: 'live_conns', align: 'right' },
            { title: t('detail.totalConns'), dataIndex: 'total_conns', align: 'right' },
            { title: t('clients.bytesIn'), dataIndex: 'bytes_in', align: 'right', render: (v: number) => formatBytes(v) },
            { title: t('clients.bytesOut'), dataIndex: 'bytes_out', align: 'right', render: (v: number) => formatBytes(v) },
            { title: t('detail.since'), dataIndex: 'since', render: (v: number) => <Tooltip title={formatTime(v)}>{formatAgo(v)}</Tooltip> },
          ]}
        />
      </Card>

      <Card size="small" title={`${t('detail.conns')} (${conns.length})`}>
        <Table<LiveConn>
          rowKey="id"
          size="small"
          dataSource={conns}
          pagination={{ pageSize: 20, hideOnSinglePage: true }}
          scroll={{ x: 640 }}
          data-testid="detail-conns"
          locale={{ emptyText: <EmptyState title={t('detail.noConns')} /> }}
          columns={[
            { title: t('detail.peer'), dataIndex: 'peer' },
            { title: t('detail.remotePort'), dataIndex: 'remote_port', render: (v: number) => `:${v}` },
            { title: t('detail.since'), dataIndex: 'since', render: (v: number) => <Tooltip title={formatTime(v)}>{formatAgo(v)}</Tooltip> },
            { title: t('clients.bytesIn'), dataIndex: 'bytes_in', align: 'right', render: (v: number) => formatBytes(v) },
            { title: t('clients.bytesOut'), dataIndex: 'bytes_out', align: 'right', render: (v: number) => formatBytes(v) },
          ]}
        />
      </Card>
    </Space>
  );
}
