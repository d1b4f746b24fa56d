// SPDX-License-Identifier: ISC
// Shows whether the live event stream is connected.
import { Badge, Button, Tooltip } from 'antd';
import { useEventsHub } from '../hooks/events';
import { useI18n } from '../i18n/context';

/** Green "Live", orange "Reconnecting…", red "stopped" with a reconnect button. */
export function LiveBadge({ compact = false }: { compact?: boolean }) {
  const { state, restart } = useEventsHub();
  const { t } = useI18n();
  const status = state === 'live' ? 'success' : state === 'stopped' ? 'error' : 'warning';
  const label = t(`live.${state}`);
  if (state === 'stopped') {
    return (
      <Tooltip title={label}>
        <Button size="small" danger onClick={restart} data-testid="live-badge" data-state={state}>
          {t('live.restart')}
        </Button>
      </Tooltip>
    );
  }
  return (
    <Tooltip title={compact ? label : undefined}>
      <span data-testid="live-badge" data-state={state} style={{ whiteSpace: 'nowrap' }}>
        <Badge status={status} text={compact ? undefined : label} />
      </span>
    </Tooltip>
  );
}
