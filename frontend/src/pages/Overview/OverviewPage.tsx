// SPDX-License-Identifier: ISC
// Overview: counts, charts over 1h/24h/7d, and the online clients at a glance.
import { useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import { Button, Card, Col, Row, Segmented, Space, Statistic, Table, Tag, Typography } from 'antd';
import { ApiOutlined, ArrowDownOutlined, ArrowUpOutlined, ClusterOutlined, ReloadOutlined, SwapOutlined } from '@ant-design/icons';
import { getStats } from '../../api/stats';
import { listClients } from '../../api/clients';
import type { Client, StatsRange } from '../../types/api';
import { useLoader } from '../../hooks/useLoader';
import { useEvents } from '../../hooks/events';
import { useI18n } from '../../i18n/context';
import { ErrorState, EmptyState, LoadingState, StaleBanner } from '../../components/StateView';
import { formatAgo, formatBytes, formatStep } from '../../components/format';
import { ClientsChart, ConnsChart, TrafficChart } from './Charts';
import { applyTick } from './stats';
import Fingerprint from './Fingerprint';

const REFRESH_MS: Record<StatsRange, number> = { '1h': 15000, '24h': 60000, '7d': 300000 };

/** The landing page of the console. */
export default function OverviewPage() {
  const { t } = useI18n();
  const [range, setRange] = useState<StatsRange>('1h');
  const stats = useLoader((signal) => getStats(range, signal), [range]);
  const clients = useLoader((signal) => listClients(signal), []);
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);

  // Series are re-read on a timer (bytes per interval come from the server);
  // gauges move with every stats tick of the event stream.
  const reloadStats = stats.reload;
  useEffect(() => {
    const id = setInterval(() => reloadStats(true), REFRESH_MS[range]);
    return () => clearInterval(id);
  }, [range, reloadStats]);
  useEffect(() => () => {
    if (pending.current) clearTimeout(pending.current);
  }, []);

  useEvents((name, data) => {
    if (name === 'stats') {
      stats.setData((s) => (s ? applyTick(s, data as Parameters<typeof applyTick>[1], Date.now() / 1000) : s));
    } else if (name === 'client_online' || name === 'client_offline') {
      if (pending.current) clearTimeout(pending.current);
      pending.current = setTimeout(() => {
        clients.reload(true);
        stats.reload(true);
      }, 300);
    }
  });

  const now = stats.data?.now;
  const points = stats.data?.points ?? [];
  const hasData = points.length > 0;

  const card = (title: string, node: React.ReactNode, testid: string) => (
    <Card size="small" title={title} data-testid={testid} styles={{ body: { padding: '12px 12px 4px' } }}>
      {node}
    </Card>
  );
  const chartBody = (node: React.ReactNode) =>
    stats.error && !stats.data ? (
      <ErrorState error={stats.error} onRetry={() => stats.reload()} />
    ) : stats.loading && !stats.data ? (
      <LoadingState rows={6} />
    ) : !hasData ? (
      <EmptyState title={t('overview.noData')} />
    ) : (
      node
    );

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <Row justify="space-between" align="middle" gutter={[8, 8]}>
        <Col>
          <Typography.Title level={3} style={{ margin: 0 }}>
            {t('overview.title')}
          </Typography.Title>
        </Col>
        <Col>
          <Space wrap>
            <Segmented<StatsRange>
              value={range}
              onChange={setRange}
              options={['1h', '24h', '7d']}
              data-testid="range-switch"
            />
            <Button icon={<ReloadOutlined />} onClick={() => { stats.reload(); clients.reload(); }} aria-label={t('common.refresh')} />
          </Space>
        </Col>
      </Row>

      <Fingerprint />
      {stats.data && stats.error ? <StaleBanner error={stats.error} onRetry={() => stats.reload()} /> : null}
      <Row gutter={[16, 16]}>
        <Col xs={12} lg={6}>
          <Card data-testid="stat-online" style={{ height: '100%' }}>
            <Statistic title={t('overview.onlineClients')} value={now?.online_clients ?? '—'} prefix={<ApiOutlined />} loading={!now && stats.loading} styles={{ content: { color: '#1668dc' } }} />
          </Card>
        </Col>
        <Col xs={12} lg={6}>
          <Card data-testid="stat-mappings" style={{ height: '100%' }}>
            <Statistic title={t('overview.mappings')} value={now?.mappings ?? '—'} prefix={<ClusterOutlined />} loading={!now && stats.loading} />
          </Card>
        </Col>
        <Col xs={12} lg={6}>
          <Card data-testid="stat-conns" style={{ height: '100%' }}>
            <Statistic title={t('overview.activeConns')} value={now?.active_conns ?? '—'} prefix={<SwapOutlined />} loading={!now && stats.loading} />
          </Card>
        </Col>
        <Col xs={12} lg={6}>
          <Card data-testid="stat-traffic" style={{ height: '100%' }}>
            <Statistic
              title={t('overview.trafficToday')}
              value={formatBytes((now?.bytes_today_in ?? 0) + (now?.bytes_today_out ?? 0))}
              loading={!now && stats.loading}
            />
            <Space size={12} style={{ fontSize: 12, color: 'rgba(0,0,0,0.55)' }}>
              <span>
                <ArrowDownOutlined style={{ color: '#52c41a' }} /> {t('overview.in')} {formatBytes(now?.bytes_today_in ?? 0)}
              </span>
              <span>
                <ArrowUpOutlined style={{ color: '#722ed1' }} /> {t('overview.out')} {formatBytes(now?.bytes_today_out ?? 0)}
              </span>
            </Space>
          </Card>
        </Col>
      </Row>

      <Row gutter={[16, 16]}>
        <Col xs={24} xl={12}>
          {card(t('overview.chartClients'), chartBody(<ClientsChart points={points} range={range} label={t('overview.chartClients')} />), 'card-clients')}
        </Col>
        <Col xs={24} xl={12}>
          {card(
            t('overview.chartTraffic'),
            chartBody(<TrafficChart points={points} range={range} labels={[t('overview.bytesIn'), t('overview.bytesOut')]} />),
            'card-traffic',
          )}
        </Col>
        <Col xs={24} xl={12}>
          {card(
            t('overview.chartConns'),
            chartBody(<ConnsChart points={points} range={range} labels={[t('overview.activeConns'), t('overview.newConns')]} />),
            'card-conns',
          )}
        </Col>
        <Col xs={24} xl={12}>
          <Card
            size="small"
            title={t('clients.title')}
            extra={<Link to="/clients">{t('nav.clients')} →</Link>}
            data-testid="card-online-list"
          >
            {clients.error && !clients.data ? (
              <ErrorState error={clients.error} onRetry={() => clients.reload()} />
            ) : (
              <Table<Client>
                size="small"
                rowKey="id"
                loading={clients.loading && !clients.data}
                dataSource={clients.data ?? []}
                pagination={false}
                scroll={{ x: 420, y: 205 }}
                locale={{ emptyText: <EmptyState title={t('clients.empty')} hint={t('clients.emptyHelp')} /> }}
                columns={[
                  { title: t('clients.name'), dataIndex: 'name', render: (v: string, c) => <Link to={`/clients/${encodeURIComponent(c.id)}`}>{v}</Link> },
                  {
                    title: t('clients.mappings'),
                    key: 'm',
                    render: (_: unknown, c) => c.mappings.map((m) => <Tag key={m.remote_port}>{m.remote_port}</Tag>),
                  },
                  { title: t('clients.liveConns'), dataIndex: 'live_conns', width: 90, align: 'right' },
                  { title: t('clients.since'), dataIndex: 'connected_since', width: 150, render: (v: number) => <span style={{ whiteSpace: 'nowrap' }}>{formatAgo(v)}</span> },
                ]}
              />
            )}
          </Card>
        </Col>
      </Row>
      {stats.data ? (
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {t('overview.step', { step: formatStep(stats.data.step) })}
        </Typography.Text>
      ) : null}
    </Space>
  );
}
