// SPDX-License-Identifier: ISC
// History of client sessions and public connections: filters, paging, export.
import { useEffect, useMemo, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { Badge, Button, Card, Col, DatePicker, Dropdown, Form, Grid, Input, InputNumber, Row, Segmented, Select, Space, Table, Tooltip, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { DownloadOutlined, FilterOutlined, ReloadOutlined, UndoOutlined } from '@ant-design/icons';
import dayjs, { type Dayjs } from 'dayjs';
import { exportUrl, listSessions } from '../../api/sessions';
import { getSettings } from '../../api/settings';
import type { ConnItem, HistoryFilter, HistoryKind, SessionItem } from '../../types/api';
import { useLoader } from '../../hooks/useLoader';
import { useEvents } from '../../hooks/events';
import { useI18n } from '../../i18n/context';
import { EmptyState, ErrorState } from '../../components/StateView';
import { formatDuration, formatTime, formatTimeShort, shortId } from '../../components/format';
import { Traffic } from '../../components/Traffic';
import { PAGE_SIZES, parseView, viewParams, type HistoryView } from './filters';
import { retentionText } from './retention';

interface FormValues {
  client?: string;
  name?: string;
  port?: number | null;
  range?: [Dayjs | null, Dayjs | null] | null;
  status?: string;
  q?: string;
}

function duration(start: number, end: number): string {
  if (!start) return '—';
  return formatDuration((end || Date.now() / 1000) - start);
}

/** The /sessions page. */
export default function SessionsPage() {
  const { t } = useI18n();
  const [params, setParams] = useSearchParams();
  const view = useMemo(() => parseView(params), [params]);
  const key = viewParams(view).toString();
  const [form] = Form.useForm<FormValues>();
  const history = useLoader((signal) => listSessions(view.filter, view.page, view.perPage, signal), [key]);
  // How long the master keeps history; nothing is shown if it cannot be read.
  const settings = useLoader((signal) => getSettings(signal), []);
  const soon = useRef<ReturnType<typeof setTimeout> | null>(null);
  const screens = Grid.useBreakpoint();
  const mobile = screens.md === false;
  const [showFilters, setShowFilters] = useState(false);
  const activeFilters = ['client', 'name', 'port', 'from', 'to', 'status', 'q'].filter((k) => view.filter[k as keyof HistoryFilter]).length;

  useEffect(() => {
    const f = view.filter;
    form.setFieldsValue({
      client: f.client ?? '',
      name: f.name ?? '',
      port: f.port ?? null,
      range: f.from || f.to ? [f.from ? dayjs.unix(f.from) : null, f.to ? dayjs.unix(f.to) : null] : null,
      status: f.status ?? '',
      q: f.q ?? '',
    });
  }, [key, form, view.filter]);
  useEffect(() => () => {
    if (soon.current) clearTimeout(soon.current);
  }, []);

  // New history arrives on the first page; follow it while the user is there.
  useEvents((name) => {
    if (view.page !== 1 || name === 'stats') return;
    if (soon.current) return;
    soon.current = setTimeout(() => {
      soon.current = null;
      history.reload(true);
    }, 1500);
  });

  const go = (v: HistoryView) => setParams(viewParams(v));
  const setKind = (kind: HistoryKind) => go({ filter: { kind }, page: 1, perPage: view.perPage });
  const onApply = (v: FormValues) => {
    const [from, to] = v.range ?? [null, null];
    const filter: HistoryFilter = {
      kind: view.filter.kind,
      client: v.client?.trim() || undefined,
      name: v.name?.trim() || undefined,
      port: v.port ?? undefined,
      from: from ? from.unix() : undefined,
      to: to ? to.unix() : undefined,
      status: v.status || undefined,
      q: v.q?.trim() || undefined,
    };
    go({ filter, page: 1, perPage: view.perPage });
  };
  const onReset = () => go({ filter: { kind: view.filter.kind }, page: 1, perPage: view.perPage });

  const statusBadge = (s: string) => (
    <Badge status={s === 'closed' ? 'default' : 'processing'} text={t(`status.${s === 'closed' ? 'closed' : s === 'open' ? 'open' : 'online'}`)} />
  );

  const time = (v: number) => (v ? <Tooltip title={formatTime(v)}>{formatTimeShort(v)}</Tooltip> : '—');
  const traffic = (_: unknown, r: { bytes_in: number; bytes_out: number }) => <Traffic inBytes={r.bytes_in} outBytes={r.bytes_out} />;
  const idLine = (id: string) => (
    <Tooltip title={id}>
      <Typography.Text type="secondary" style={{ fontSize: 12, fontFamily: 'monospace' }}>
        {shortId(id)}
      </Typography.Text>
    </Tooltip>
  );

  // Cluster mode: the items carry the node whose history they are.
  const hasNode = (history.data?.items ?? []).some((i) => (i as { node?: string }).node !== undefined);
  const nodeCol = hasNode
    ? [{ title: t('clients.node'), dataIndex: 'node', width: 80, render: (v: string | undefined) => <span data-testid="history-node">{v ?? ''}</span> }]
    : [];
  const sessionCols: ColumnsType<SessionItem> = [
    { title: t('sessions.status'), dataIndex: 'status', width: 90, render: statusBadge },
    ...nodeCol,
    {
      title: t('clients.name'),
      dataIndex: 'name',
      width: 165,
      render: (v: string, r) => (
        <div style={{ lineHeight: 1.3 }}>
          <div>{r.status === 'online' ? <Link to={`/clients/${encodeURIComponent(r.client_id)}`}>{v}</Link> : v}</div>
          {idLine(r.client_id)}
        </div>
      ),
    },
    { title: t('clients.address'), dataIndex: 'address', width: 145 },
    { title: t('sessions.ports'), dataIndex: 'ports', width: 75 },
    { title: t('sessions.start'), dataIndex: 'start', width: 130, render: time },
    { title: t('sessions.end'), dataIndex: 'end', width: 130, render: time },
    { title: t('sessions.duration'), key: 'dur', width: 80, render: (_: unknown, r) => duration(r.start, r.end) },
    { title: `${t('clients.bytesIn')} / ${t('clients.bytesOut')}`, key: 'traffic', width: 100, align: 'right', render: traffic },
    { title: t('sessions.reason'), dataIndex: 'reason', ellipsis: { showTitle: true }, render: (v: string) => v || '—' },
  ];
  const connCols: ColumnsType<ConnItem> = [
    { title: t('sessions.status'), dataIndex: 'status', width: 90, render: statusBadge },
    ...nodeCol,
    {
      title: t('clients.name'),
      dataIndex: 'client_name',
      width: 140,
      render: (v: string, r) => (
        <div style={{ lineHeight: 1.3 }}>
          <div>{v}</div>
          {idLine(r.client_id)}
        </div>
      ),
    },
    {
      title: t('sessions.mapping'),
      dataIndex: 'mapping',
      width: 175,
      render: (v: string, r) => (
        <span style={{ whiteSpace: 'nowrap' }}>
          {v} :{r.remote_port} → {r.local_port}
        </span>
      ),
    },
    { title: t('sessions.peer'), dataIndex: 'peer', width: 145 },
    { title: t('sessions.start'), dataIndex: 'start', width: 130, render: time },
    { title: t('sessions.end'), dataIndex: 'end', width: 130, render: time },
    { title: t('sessions.duration'), key: 'dur', width: 80, render: (_: unknown, r) => duration(r.start, r.end) },
    { title: `${t('clients.bytesIn')} / ${t('clients.bytesOut')}`, key: 'traffic', width: 100, align: 'right', render: traffic },
    { title: t('sessions.reason'), dataIndex: 'reason', ellipsis: { showTitle: true }, render: (v: string) => v || '—' },
  ];

  const kind = view.filter.kind;
  const statusOptions = [
    { value: '', label: t('common.all') },
    ...(kind === 'conns'
      ? [{ value: 'open', label: t('status.open') }, { value: 'closed', label: t('status.closed') }]
      : [{ value: 'online', label: t('status.online') }, { value: 'closed', label: t('status.closed') }]),
  ];
  const data = history.data;
  const pagination = {
    current: view.page,
    pageSize: view.perPage,
    total: data?.total ?? 0,
    showSizeChanger: true,
    pageSizeOptions: PAGE_SIZES.map(String),
    showTotal: (total: number) => t('common.total', { total }),
    onChange: (page: number, perPage: number) => go({ filter: view.filter, page: perPage !== view.perPage ? 1 : page, perPage }),
  };
  const empty = { emptyText: <EmptyState title={t('sessions.empty')} /> };

  // A flex column (not Space): the hidden filter card must not leave a gap.
  return (
    <div style={{ display: 'flex', flexDirection: 'column', gap: 16 }}>
      <Space wrap style={{ width: '100%', justifyContent: 'space-between' }}>
        <Space direction="vertical" size={0}>
          <Typography.Title level={3} style={{ margin: 0 }}>
            {t('sessions.title')}
          </Typography.Title>
          {settings.data && typeof settings.data.history_retention === 'number' ? (
            <Typography.Text type="secondary" data-testid="retention">
              {retentionText(settings.data, t)}
            </Typography.Text>
          ) : null}
        </Space>
        <Space wrap>
          <Segmented<HistoryKind>
            value={kind}
            onChange={setKind}
            options={[
              { value: 'sessions', label: t('sessions.kindSessions') },
              { value: 'conns', label: t('sessions.kindConns') },
            ]}
            data-testid="kind-switch"
          />
          <Dropdown
            menu={{
              items: [
                { key: 'csv', label: <a href={exportUrl(view.filter, 'csv')} download data-testid="export-csv">{t('sessions.csv')}</a> },
                { key: 'ndjson', label: <a href={exportUrl(view.filter, 'ndjson')} download data-testid="export-ndjson">{t('sessions.ndjson')}</a> },
              ],
            }}
          >
            <Button icon={<DownloadOutlined />} data-testid="export-button">
              {t('sessions.download')}
            </Button>
          </Dropdown>
          {mobile ? (
            <Button icon={<FilterOutlined />} onClick={() => setShowFilters((v) => !v)} aria-expanded={showFilters} data-testid="filters-toggle">
              {t('sessions.filters')}
              {activeFilters ? ` (${activeFilters})` : ''}
            </Button>
          ) : null}
        </Space>
      </Space>

      <Card size="small" style={mobile && !showFilters ? { display: 'none' } : undefined}>
        <Form<FormValues> form={form} layout="vertical" onFinish={onApply} data-testid="history-filters">
          <Row gutter={12}>
            <Col xs={24} sm={12} lg={6} xl={4}>
              <Form.Item name="client" label={t('sessions.client')} style={{ marginBottom: 8 }}>
                <Input allowClear data-testid="filter-client" />
              </Form.Item>
            </Col>
            <Col xs={24} sm={12} lg={6} xl={4}>
              <Form.Item name="name" label={t('sessions.name')} style={{ marginBottom: 8 }}>
                <Input allowClear data-testid="filter-name" />
              </Form.Item>
            </Col>
            <Col xs={12} sm={6} lg={4} xl={3}>
              <Form.Item name="port" label={t('sessions.port')} style={{ marginBottom: 8 }}>
                <InputNumber min={1} max={65535} style={{ width: '100%' }} data-testid="filter-port" />
              </Form.Item>
            </Col>
            <Col xs={12} sm={6} lg={4} xl={3}>
              <Form.Item name="status" label={t('sessions.status')} style={{ marginBottom: 8 }}>
                <Select options={statusOptions} data-testid="filter-status" />
              </Form.Item>
            </Col>
            <Col xs={24} sm={12} lg={8} xl={6}>
              <Form.Item name="range" label={t('sessions.range')} style={{ marginBottom: 8 }}>
                <DatePicker.RangePicker showTime allowEmpty={[true, true]} style={{ width: '100%' }} />
              </Form.Item>
            </Col>
            <Col xs={24} sm={12} lg={8} xl={4}>
              <Form.Item name="q" label={t('sessions.q')} style={{ marginBottom: 8 }}>
                <Input allowClear placeholder={t('sessions.qPlaceholder')} data-testid="filter-q" />
              </Form.Item>
            </Col>
          </Row>
          <Space wrap>
            <Button type="primary" htmlType="submit" icon={<FilterOutlined />} data-testid="filter-apply">
              {t('sessions.apply')}
            </Button>
            <Button icon={<UndoOutlined />} onClick={onReset}>
              {t('common.reset')}
            </Button>
            <Button icon={<ReloadOutlined />} onClick={() => history.reload()}>
              {t('common.refresh')}
            </Button>
          </Space>
        </Form>
      </Card>

      <Card size="small" styles={{ body: { padding: 0 } }}>
        {history.error ? (
          <ErrorState error={history.error} onRetry={() => history.reload()} />
        ) : kind === 'conns' ? (
          <Table<ConnItem>
            rowKey="id"
            size="small"
            columns={connCols}
            dataSource={data?.kind === 'conns' ? (data.items as ConnItem[]) : []}
            loading={history.loading}
            pagination={pagination}
            scroll={{ x: 1100 }}
            locale={empty}
            data-testid="history-table"
          />
        ) : (
          <Table<SessionItem>
            rowKey="id"
            size="small"
            columns={sessionCols}
            dataSource={data?.kind !== 'conns' ? ((data?.items ?? []) as SessionItem[]) : []}
            loading={history.loading}
            pagination={pagination}
            scroll={{ x: 1100 }}
            locale={empty}
            data-testid="history-table"
          />
        )}
      </Card>
    </div>
  );
}
