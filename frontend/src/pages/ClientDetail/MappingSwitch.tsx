// SPDX-License-Identifier: ISC
// The per-mapping switch: disabling refuses new public connections (open
// ones may finish) without disconnecting the client.
import { useState } from 'react';
import { App, Popconfirm, Switch } from 'antd';
import { setMappingEnabled } from '../../api/mappings';
import type { Mapping } from '../../types/api';
import { useI18n } from '../../i18n/context';

/** A switch for one mapping; onChanged runs after the master applied it. */
export default function MappingSwitch({ mapping, disabled, onChanged }: { mapping: Mapping; disabled?: boolean; onChanged: () => void }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [busy, setBusy] = useState(false);
  // What we asked for, until the reloaded mapping says otherwise.
  const [asked, setAsked] = useState<{ base: boolean; want: boolean } | null>(null);
  const server = mapping.enabled !== false;
  const on = asked && asked.base === server ? asked.want : server;
  const port = mapping.remote_port;

  const apply = async (want: boolean) => {
    setBusy(true);
    try {
      await setMappingEnabled(port, want);
      setAsked({ base: server, want });
      message.success(t(want ? 'mapping.enabled' : 'mapping.disabled', { port }));
      onChanged();
    } catch (e) {
      message.error(t('mapping.failed', { error: e instanceof Error ? e.message : String(e) }));
    } finally {
      setBusy(false);
    }
  };

  const sw = (
    <Switch
      checked={on}
      loading={busy}
      disabled={disabled}
      size="small"
      checkedChildren={t('mapping.on')}
      unCheckedChildren={t('mapping.off')}
      aria-label={t('mapping.switchLabel', { port })}
      data-testid={`mapping-switch-${port}`}
      onClick={on ? undefined : () => apply(true)}
    />
  );
  // Turning off refuses the public: confirm first; turning on needs no question.
  if (!on) return sw;
  return (
    <Popconfirm
      title={t('mapping.disableConfirm', { port })}
      description={t('mapping.disableHelp')}
      okText={t('mapping.disable')}
      cancelText={t('common.cancel')}
      okButtonProps={{ danger: true, ...({ 'data-testid': `confirm-disable-${port}` } as Record<string, string>) }}
      onConfirm={() => apply(false)}
      disabled={disabled || busy}
    >
      {sw}
    </Popconfirm>
  );
}
