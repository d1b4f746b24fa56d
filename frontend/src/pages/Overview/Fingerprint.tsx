// SPDX-License-Identifier: ISC
// The master's certificate fingerprint, for clients' server_fingerprint.
import { Alert, Card, Typography } from 'antd';
import { SafetyCertificateOutlined } from '@ant-design/icons';
import { getSettings } from '../../api/settings';
import { useLoader } from '../../hooks/useLoader';
import { useI18n } from '../../i18n/context';

/** Shows the fingerprint with a copy button; nothing when TLS is not set up. */
export default function Fingerprint() {
  const { t } = useI18n();
  const settings = useLoader((signal) => getSettings(signal), []);
  const s = settings.data;
  if (!s || (!s.tls_fingerprint && !s.tls_error)) return null;
  return (
    <Card size="small" data-testid="tls-fingerprint" title={<><SafetyCertificateOutlined /> {t('overview.fingerprint')}</>}>
      {s.tls_fingerprint ? (
        <>
          <Typography.Text code copyable={{ text: s.tls_fingerprint, tooltips: [t('overview.copy'), t('overview.copied')] }} style={{ wordBreak: 'break-all' }} data-testid="tls-fingerprint-value">
            {s.tls_fingerprint}
          </Typography.Text>
          <Typography.Paragraph type="secondary" style={{ margin: '8px 0 0' }}>
            {t('overview.fingerprintHelp')}
          </Typography.Paragraph>
        </>
      ) : (
        <Alert type="warning" showIcon title={t('overview.fingerprintError', { error: s.tls_error ?? '' })} />
      )}
    </Card>
  );
}
