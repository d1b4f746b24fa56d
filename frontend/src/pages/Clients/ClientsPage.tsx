// SPDX-License-Identifier: ISC
// Online clients: search, filter, sort, live updates, refresh, disconnect.
import { useEffect, useMemo, useRef, useState } from 'react';
import { Link } from 'react-router';
import { App, Badge, Button, Card, Checkbox, Grid, Input, List, Popconfirm, Space, Table, Tag, Tooltip, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { DisconnectOutlined, EyeOutlined, ReloadOutlined, SearchOutlined } from '@ant-design/icons';
import { disconnectClient, listClients } from '../../api/clients';
import { useCan } from '../../access';
import type { Client, ClientOffline, ConnEvent } from '../../types/api';
import { useLoader } from '../../hooks/useLoader';
import { useEvents } from '../../hooks/events';
import { useI18n } from '../../i18n/context';
import { EmptyState, ErrorState, StaleBanner } from '../../components/StateView';
import { formatAgoShort, formatTime, shortId } from '../../components/format';
import { Traffic } from '../../components/Traffic';
import { countConn, matchClient, removeClient, upsertClient } from './live';

const QUIET_REFRESH_MS = 15000;

/** The mapping tags of a client: "ssh :10022" (tcp), "dns :10053/udp", or "web http a.example.org"
 * (a virtual host: its type and first domain; the tooltip lists them all). */
export function MappingTags({ client }: { client: Client }) {
  if (!client.mappings.length) return <Typography.Text type="secondary">—</Typography.Text>;
  return (
    <Space size={[4, 4]} wrap>
      {client.mappings.map((m) => {
        const vhost = m.type === 'http' || m.type === 'https';
        const doms = m.domains ?? [];
        const title = vhost
          ? `${m.name} (${m.type}): ${doms.join(', ')} :${m.remote_port} → ${m.local_ip}:${m.local_port}`
          : `${m.name} (${m.type ?? 'tcp'}): :${m.remote_port} → ${m.local_ip}:${m.local_port}`;
        return (
          <Tooltip key={m.name} title={title}>
            <Tag color={vhost ? 'purple' : 'blue'} style={{ marginInlineEnd: 0 }}>
              {vhost ? `${m.name} ${m.type} ${doms[0] ?? ''}${doms.length > 1 ? ` +${doms.length - 1}` : ''}` : `${m.name} :${m.remote_port}${m.type === 'udp' ? '/udp' : ''}`}
            </Tag>
          </Tooltip>
        );
      })}
    </Space>
  );
}

/** The /clients page. */
export default function ClientsPage() {
  const { t } = useI18n();
  const { message } = App.useApp();
  const clients = useLoader((signal) => listClients(signal), []);
  const [search, setSearch] = useState('');
  const [activeOnly, setActiveOnly] = useState(false);
  const [busy, setBusy] = useState<string>('');
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const timers = useRef(new Set<ReturnType<typeof setTimeout>>());
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const { reload, setData } = clients;
  const screens = Grid.useBreakpoint();
  const mobile = screens.md === false;

  useEffect(() => {
    const id = setInterval(() => reload(true), QUIET_REFRESH_MS);
    const ts = timers.current;
    return () => {
      clearInterval(id);
      for (const x of ts) clearTimeout(x);
      if (refreshTimer.current) clearTimeout(refreshTimer.current);
    };
  }, [reload]);

  const later = (fn: () => void, ms: number) => {
    const x = setTimeout(() => {
      timers.current.delete(x);
      fn();
    }, ms);
    timers.current.add(x);
  };

  // Bytes change without events: read the list again shortly after connections close.
  const refreshSoon = () => {
    if (refreshTimer.current) return;
    refreshTimer.current = setTimeout(() => {
      refreshTimer.current = null;
      reload(true);
    }, 1500);
  };

  useEvents((name, data) => {
    switch (name) {
      case 'client_online': {
        const c = data as Client;
        setData((l) => upsertClient(l ?? [], c));
        setFresh((s) => new Set(s).add(c.id));
        later(() => setFresh((s) => { const n = new Set(s); n.delete(c.id); return n; }), 4000);
        message.info(t('clients.cameOnline', { name: c.name }));
        break;
      }
      case 'client_offline': {
        const c = data as ClientOffline;
        setData((l) => removeClient(l ?? [], c));
        message.warning(t('clients.wentOffline', { name: c.name || c.id }));
        break;
      }
      case 'conn_open':
        setData((l) => countConn(l ?? [], data as ConnEvent, 1));
        break;
      case 'conn_close':
        setData((l) => countConn(l ?? [], data as ConnEvent, -1));
        refreshSoon();
        break;
      default:
        break;
    }
  });

  const onDisconnect = async (c: Client) => {
    setBusy(c.id);
    try {
      await disconnectClient(c.id);
      setData((l) => removeClient(l ?? [], c));
      message.success(t('clients.disconnected', { name: c.name }));
    } catch (e) {
      message.error(t('clients.disconnectFailed', { error: e instanceof Error ? e.message : String(e) }));
    } finally {
      setBusy('');
    }
  };

  const all = useMemo(() => clients.data ?? [], [clients.data]);
  const rows = useMemo(
    () => all.filter((c) => matchClient(c, search) && (!activeOnly || c.live_conns > 0)),
    [all, search, activeOnly],
  );

  // A viewer gets no disconnect button at all (the server would refuse).
  const mayDisconnect = useCan('client.disconnect');
  const disconnectButton = (c: Client, withText: boolean) =>
    !mayDisconnect ? null : (
      <Popconfirm
        title={t('clients.disconnectConfirm', { name: c.name })}
        description={t('clients.disconnectHelp')}
        okText={t('clients.disconnect')}
        cancelText={t('common.cancel')}
        okButtonProps={{ danger: true, ...({ 'data-testid': 'confirm-disconnect' } as Record<string, string>) }}
        onConfirm={() => onDisconnect(c)}
        placement="bottomRight"
      >
        <Tooltip title={withText ? undefined : t('clients.disconnect')}>
          <Button
            size="small"
            danger
            icon={<DisconnectOutlined />}
            loading={busy === c.id}
            aria-label={t('clients.disconnect')}
            data-testid={`disconnect-${c.name}`}
          >
            {withText ? t('clients.disconnect') : null}
          </Button>
        </Tooltip>
      </Popconfirm>
    );

  const hasNode = all.some((c) => c.node !== undefined);
  const columns: ColumnsType<Client> = [
    {
      title: t('clients.name'),
      dataIndex: 'name',
      fixed: 'left',
      width: 180,
      sorter: (a, b) => a.name.localeCompare(b.name),
      defaultSortOrder: 'ascend',
      render: (v: string, c) => (
        <div style={{ lineHeight: 1.3 }}>
          <Space size={6}>
            <Badge status="success" />
            <Link to={`/clients/${encodeURIComponent(c.id)}`} data-testid="client-name" style={{ fontWeight: 500 }}>
              {v}
            </Link>
            {c.credential ? (
              <Tooltip title={t('clients.credential')}>
                <Tag color="geekblue" style={{ marginInlineEnd: 0 }} data-testid="client-credential-tag">
                  {c.credential}
                </Tag>
              </Tooltip>
            ) : null}
          </Space>
          <div>
            <Typography.Text type="secondary" copyable={{ text: c.id }} style={{ fontSize: 12, fontFamily: 'monospace' }}>
              {shortId(c.id)}
            </Typography.Text>
          </div>
        </div>
      ),
    },
    // Cluster mode: which node holds each session.
    ...(hasNode
      ? [
          {
            title: t('clients.node'),
            dataIndex: 'node',
            width: 90,
            sorter: (a: Client, b: Client) => (a.node ?? '').localeCompare(b.node ?? ''),
            render: (v: string | undefined) => <Tag data-testid="client-node">{v ?? ''}</Tag>,
          },
        ]
      : []),
    { title: t('clients.address'), dataIndex: 'address', width: 150, sorter: (a, b) => a.address.localeCompare(b.address) },
    { title: t('clients.mappings'), key: 'mappings', width: 170, render: (_: unknown, c) => <MappingTags client={c} /> },
    {
      title: t('clients.liveConns'),
      dataIndex: 'live_conns',
      width: 85,
      align: 'right',
      sorter: (a, b) => a.live_conns - b.live_conns,
      render: (v: number) => (v > 0 ? <Badge count={v} color="#1668dc" overflowCount={9999} /> : <span>0</span>),
    },
    {
      title: `${t('clients.bytesIn')} / ${t('clients.bytesOut')}`,
      key: 'traffic',
      width: 100,
      align: 'right',
      sorter: (a, b) => a.bytes_in + a.bytes_out - (b.bytes_in + b.bytes_out),
      render: (_: unknown, c) => <Traffic inBytes={c.bytes_in} outBytes={c.bytes_out} />,
    },
    {
      title: t('clients.since'),
      dataIndex: 'connected_since',
      width: 105,
      sorter: (a, b) => a.connected_since - b.connected_since,
      render: (v: number) => <Tooltip title={formatTime(v)}>{formatAgoShort(v)}</Tooltip>,
    },
    {
      title: t('clients.heartbeat'),
      dataIndex: 'last_heartbeat',
      width: 105,
      sorter: (a, b) => a.last_heartbeat - b.last_heartbeat,
      render: (v: number) => <Tooltip title={formatTime(v)}>{formatAgoShort(v)}</Tooltip>,
    },
    {
      title: t('clients.actions'),
      key: 'actions',
      fixed: 'right',
      width: 90,
      render: (_: unknown, c) => (
        <Space size={4}>
          <Link to={`/clients/${encodeURIComponent(c.id)}`}>
            <Tooltip title={t('common.details')}>
              <Button size="small" icon={<EyeOutlined />} aria-label={t('common.details')} />
            </Tooltip>
          </Link>
          {disconnectButton(c, false)}
        </Space>
      ),
    },
  ];

  const emptyText =
    all.length === 0 ? (
      <EmptyState title={t('clients.empty')} hint={t('clients.emptyHelp')} />
    ) : (
      <EmptyState title={t('clients.noMatch')} />
    );

  // Phones get one card per client instead of a table that scrolls sideways.
  const cards = (
    <List<Client>
      dataSource={rows}
      loading={clients.loading && !clients.data}
      locale={{ emptyText }}
      data-testid="clients-cards"
      renderItem={(c) => (
        <Card size="small" style={{ marginBottom: 8 }} className={fresh.has(c.id) ? 'gt-row-fresh-card' : undefined}>
          <Space orientation="vertical" size={4} style={{ width: '100%' }}>
            <Space style={{ width: '100%', justifyContent: 'space-between' }}>
              <Space size={6}>
                <Badge status="success" />
                <Link to={`/clients/${encodeURIComponent(c.id)}`} data-testid="client-name" style={{ fontWeight: 500 }}>
                  {c.name}
                </Link>
                {c.credential ? <Tag color="geekblue">{c.credential}</Tag> : null}
              </Space>
              {disconnectButton(c, true)}
            </Space>
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {c.address} · <span style={{ fontFamily: 'monospace' }}>{shortId(c.id)}</span>
            </Typography.Text>
            <MappingTags client={c} />
            <Space size={16} wrap style={{ fontSize: 12 }}>
              <span>
                {t('clients.liveConns')}: <b>{c.live_conns}</b>
              </span>
              <Traffic inBytes={c.bytes_in} outBytes={c.bytes_out} inline />
              <span>
                {t('clients.since')}: {formatAgoShort(c.connected_since)}
              </span>
            </Space>
          </Space>
        </Card>
      )}
    />
  );

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <Space align="center" wrap style={{ justifyContent: 'space-between', width: '100%' }}>
        <Typography.Title level={3} style={{ margin: 0 }}>
          {t('clients.title')}{' '}
          <Tag color="green" style={{ verticalAlign: 'middle' }} data-testid="client-count">
            {t('clients.count', { count: all.length })}
          </Tag>
        </Typography.Title>
      </Space>
      <Card styles={{ body: { padding: 12 } }}>
        <Space wrap style={{ marginBottom: 12, width: '100%', justifyContent: 'space-between' }}>
          <Space wrap>
            <Input
              allowClear
              prefix={<SearchOutlined />}
              placeholder={t('clients.searchPlaceholder')}
              value={search}
              onChange={(e) => setSearch(e.target.value)}
              style={{ width: 280, maxWidth: '100%' }}
              data-testid="client-search"
            />
            <Checkbox checked={activeOnly} onChange={(e) => setActiveOnly(e.target.checked)}>
              {t('clients.filterActive')}
            </Checkbox>
          </Space>
          <Space>
            {clients.loadedAt ? (
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {t('common.updated', { time: new Date(clients.loadedAt).toLocaleTimeString() })}
              </Typography.Text>
            ) : null}
            <Button icon={<ReloadOutlined />} onClick={() => clients.reload()} loading={clients.loading && !!clients.data} data-testid="clients-refresh">
              {t('common.refresh')}
            </Button>
          </Space>
        </Space>
        {clients.data ? (
          <div style={{ marginBottom: clients.error ? 12 : 0 }}>
            <StaleBanner error={clients.error} onRetry={() => clients.reload()} />
          </div>
        ) : null}
        {clients.error && !clients.data ? (
          <ErrorState error={clients.error} onRetry={() => clients.reload()} />
        ) : mobile ? (
          cards
        ) : (
          <Table<Client>
            rowKey="id"
            size="middle"
            columns={columns}
            dataSource={rows}
            loading={clients.loading && !clients.data}
            rowClassName={(c) => (fresh.has(c.id) ? 'gt-row-fresh' : '')}
            pagination={{ pageSize: 50, hideOnSinglePage: true, showSizeChanger: false }}
            scroll={{ x: 975 }}
            data-testid="clients-table"
            locale={{ emptyText }}
          />
        )}
      </Card>
    </Space>
  );
}
