// SPDX-License-Identifier: ISC
// Per-client credentials: list (expiry, ports, last use), add with the secret
// shown once, rotate and revoke after confirmation.
import { useState } from 'react';
import { Alert, App, Button, Card, Form, Input, InputNumber, Modal, Popconfirm, Select, Space, Table, Tag, Tooltip, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { KeyOutlined, PlusOutlined, ReloadOutlined, StopOutlined, SyncOutlined } from '@ant-design/icons';
import { addToken, listTokens, revokeToken, rotateToken } from '../../api/tokens';
import type { Token, TokenWithSecret } from '../../types/api';
import { useCan } from '../../access';
import { useLoader } from '../../hooks/useLoader';
import { useI18n } from '../../i18n/context';
import { EmptyState, ErrorState } from '../../components/StateView';
import { formatAgo, formatTime } from '../../components/format';
import { toNewToken, type AddForm } from './form';

const STATE_COLORS: Record<Token['state'], string> = { active: 'green', expired: 'orange', revoked: 'red' };

/**
 * The one-time view of a new secret, with a copy button.  It is unmounted,
 * not just hidden, when closed: the secret leaves the page at once.
 */
function SecretModal({ token, onClose }: { token: TokenWithSecret; onClose: () => void }) {
  const { t } = useI18n();
  return (
    <Modal
      open
      title={t('tokens.secretTitle', { name: token.name })}
      onCancel={onClose}
      footer={<Button type="primary" onClick={onClose} data-testid="secret-done">{t('tokens.secretDone')}</Button>}
      maskClosable={false}
    >
      <Alert type="warning" showIcon title={t('tokens.secretOnce')} style={{ marginBottom: 12 }} />
      <Typography.Paragraph copyable={{ text: token.secret }} code data-testid="token-secret" style={{ wordBreak: 'break-all' }}>
        {token.secret}
      </Typography.Paragraph>
      <Typography.Text type="secondary">{t('tokens.secretHint')}</Typography.Text>
    </Modal>
  );
}

/** The /credentials page. */
export default function CredentialsPage() {
  const { t } = useI18n();
  const { message } = App.useApp();
  const tokens = useLoader((signal) => listTokens(signal), []);
  const [adding, setAdding] = useState(false);
  const [saving, setSaving] = useState(false);
  const [busy, setBusy] = useState('');
  const [secret, setSecret] = useState<TokenWithSecret | null>(null);
  const [form] = Form.useForm<AddForm>();
  // Anyone may look; only an admin issues, rotates or revokes (the server agrees).
  const mayManage = useCan('credential.manage');

  const onAdd = async () => {
    let values: AddForm;
    try {
      values = await form.validateFields();
    } catch {
      return;
    }
    setSaving(true);
    try {
      const tok = await addToken(toNewToken(values));
      setAdding(false);
      form.resetFields();
      setSecret(tok);
      tokens.reload(true);
    } catch (e) {
      message.error(t('tokens.addFailed', { error: e instanceof Error ? e.message : String(e) }));
    } finally {
      setSaving(false);
    }
  };

  const onRevoke = async (tok: Token) => {
    setBusy(tok.name);
    try {
      await revokeToken(tok.name);
      message.success(t('tokens.revoked', { name: tok.name }));
      tokens.reload(true);
    } catch (e) {
      message.error(t('tokens.actionFailed', { error: e instanceof Error ? e.message : String(e) }));
    } finally {
      setBusy('');
    }
  };

  const onRotate = async (tok: Token) => {
    setBusy(tok.name);
    try {
      setSecret(await rotateToken(tok.name));
      tokens.reload(true);
    } catch (e) {
      message.error(t('tokens.actionFailed', { error: e instanceof Error ? e.message : String(e) }));
    } finally {
      setBusy('');
    }
  };

  const columns: ColumnsType<Token> = [
    {
      title: t('tokens.name'),
      dataIndex: 'name',
      render: (v: string) => <Typography.Text strong data-testid="token-name">{v}</Typography.Text>,
    },
    {
      title: t('tokens.state'),
      dataIndex: 'state',
      width: 100,
      render: (v: Token['state']) => <Tag color={STATE_COLORS[v]} data-testid={'token-state'}>{t(`tokens.state.${v}`)}</Tag>,
    },
    { title: t('tokens.ports'), dataIndex: 'ports', render: (v: string) => v || t('tokens.any') },
    {
      title: t('tokens.expires'),
      dataIndex: 'expires',
      render: (v: number) => (v ? <span title={formatAgo(v)}>{formatTime(v)}</span> : t('tokens.never')),
    },
    {
      title: t('tokens.maxMappings'),
      dataIndex: 'max_mappings',
      width: 110,
      render: (v: number) => (v ? v : t('tokens.noLimit')),
    },
    {
      title: t('tokens.sources'),
      key: 'sources',
      render: (_: unknown, r: Token) =>
        r.allow.length + r.deny.length === 0 ? (
          t('tokens.any')
        ) : (
          <Space size={[4, 4]} wrap>
            {r.allow.map((c) => <Tag key={'a' + c} color="green">{c}</Tag>)}
            {r.deny.map((c) => <Tag key={'d' + c} color="red">{t('tokens.denyTag', { cidr: c })}</Tag>)}
          </Space>
        ),
    },
    {
      title: t('tokens.lastUsed'),
      dataIndex: 'last_used',
      render: (v: number) => (v ? <span title={formatTime(v)}>{formatAgo(v)}</span> : t('tokens.neverUsed')),
    },
  ];
  const actionColumn: ColumnsType<Token> = [
    {
      title: t('tokens.actions'),
      key: 'actions',
      width: 120,
      render: (_: unknown, r: Token) =>
        r.revoked ? null : (
          <Space>
            <Popconfirm
              title={t('tokens.rotateConfirm', { name: r.name })}
              description={t('tokens.rotateHelp')}
              okText={t('tokens.rotate')}
              cancelText={t('common.cancel')}
              onConfirm={() => onRotate(r)}
              okButtonProps={{ ...({ 'data-testid': 'confirm-rotate' } as Record<string, string>) }}
            >
              <Tooltip title={t('tokens.rotate')}>
                <Button size="small" icon={<SyncOutlined />} loading={busy === r.name} aria-label={t('tokens.rotate')} data-testid={`rotate-${r.name}`} />
              </Tooltip>
            </Popconfirm>
            <Popconfirm
              title={t('tokens.revokeConfirm', { name: r.name })}
              description={t('tokens.revokeHelp')}
              okText={t('tokens.revoke')}
              cancelText={t('common.cancel')}
              onConfirm={() => onRevoke(r)}
              okButtonProps={{ danger: true, ...({ 'data-testid': 'confirm-revoke' } as Record<string, string>) }}
            >
              <Tooltip title={t('tokens.revoke')}>
                <Button size="small" danger icon={<StopOutlined />} loading={busy === r.name} aria-label={t('tokens.revoke')} data-testid={`revoke-${r.name}`} />
              </Tooltip>
            </Popconfirm>
          </Space>
        ),
    },
  ];

  return (
    <Space orientation="vertical" size={16} style={{ width: '100%' }}>
      <Space wrap style={{ width: '100%', justifyContent: 'space-between' }}>
        <Typography.Title level={3} style={{ margin: 0 }}>
          <KeyOutlined /> {t('tokens.title')}
        </Typography.Title>
        <Space wrap>
          {mayManage && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => setAdding(true)} data-testid="token-add">
              {t('tokens.add')}
            </Button>
          )}
          <Button icon={<ReloadOutlined />} onClick={() => tokens.reload()}>
            {t('common.refresh')}
          </Button>
        </Space>
      </Space>
      <Card size="small" styles={{ body: { padding: 0 } }}>
        {tokens.error ? (
          <ErrorState error={tokens.error} onRetry={() => tokens.reload()} />
        ) : (
          <Table<Token>
            rowKey="name"
            size="small"
            columns={mayManage ? [...columns, ...actionColumn] : columns}
            dataSource={tokens.data ?? []}
            loading={tokens.loading}
            scroll={{ x: 900 }}
            pagination={false}
            data-testid="tokens-table"
            locale={{ emptyText: <EmptyState title={t('tokens.empty')} hint={t('tokens.emptyHelp')} /> }}
          />
        )}
      </Card>
      <Modal
        open={adding}
        title={t('tokens.addTitle')}
        okText={t('tokens.add')}
        cancelText={t('common.cancel')}
        confirmLoading={saving}
        onOk={onAdd}
        onCancel={() => setAdding(false)}
        okButtonProps={{ ...({ 'data-testid': 'token-add-ok' } as Record<string, string>) }}
        destroyOnHidden
      >
        <Form<AddForm> form={form} layout="vertical" preserve={false}>
          <Form.Item
            name="name"
            label={t('tokens.name')}
            extra={t('tokens.nameHelp')}
            rules={[{ required: true, pattern: /^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$/, message: t('tokens.nameHelp') }]}
          >
            <Input autoComplete="off" data-testid="token-form-name" />
          </Form.Item>
          <Form.Item name="ports" label={t('tokens.ports')} extra={t('tokens.portsHelp')}>
            <Input placeholder="10000-10010" data-testid="token-form-ports" />
          </Form.Item>
          <Form.Item name="expires" label={t('tokens.expires')} extra={t('tokens.expiresHelp')}>
            <Input placeholder="30d" data-testid="token-form-expires" />
          </Form.Item>
          <Form.Item name="max_mappings" label={t('tokens.maxMappings')} extra={t('tokens.maxMappingsHelp')}>
            <InputNumber min={0} max={1000000} style={{ width: '100%' }} data-testid="token-form-max" />
          </Form.Item>
          <Form.Item name="allow" label={t('tokens.allow')} extra={t('tokens.cidrHelp')}>
            <Select mode="tags" open={false} tokenSeparators={[',', ' ']} placeholder="192.0.2.0/24" data-testid="token-form-allow" />
          </Form.Item>
          <Form.Item name="deny" label={t('tokens.deny')}>
            <Select mode="tags" open={false} tokenSeparators={[',', ' ']} placeholder="198.51.100.7" data-testid="token-form-deny" />
          </Form.Item>
        </Form>
      </Modal>
      {secret && <SecretModal token={secret} onClose={() => setSecret(null)} />}
    </Space>
  );
}
