// SPDX-License-Identifier: ISC
// The login page: the only page reachable without a session.  The one-time
// code field appears when the server answers 401 {"error":"otp required"}.
import { useState } from 'react';
import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { Alert, Button, Card, Form, Input, Typography } from 'antd';
import { LockOutlined, SafetyOutlined, UserOutlined } from '@ant-design/icons';
import { ApiError } from '../../api/http';
import { OTP_REQUIRED } from '../../api/auth';
import { useAuth } from '../../auth/context';
import { useI18n } from '../../i18n/context';
import { LangSwitch } from '../../components/LangSwitch';
import { safeNext } from './next';

interface Fields {
  username: string;
  password: string;
  otp?: string;
}

/** Username + password form; back to ?next= after success. */
export default function LoginPage() {
  const { t } = useI18n();
  const { status, login } = useAuth();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [needOtp, setNeedOtp] = useState(false);
  const next = safeNext(params.get('next'));

  if (status === 'authenticated' && !busy) return <Navigate to={next} replace />;

  const onFinish = async (v: Fields) => {
    setBusy(true);
    setError('');
    try {
      await login(v.username, v.password, needOtp ? v.otp : undefined);
      navigate(next, { replace: true });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401 && e.message === OTP_REQUIRED) {
        // Right password, second factor enrolled: ask for the code.
        setNeedOtp(true);
        setError(needOtp ? t('login.otpMissing') : '');
      } else if (e instanceof ApiError && e.status === 429) setError(t('login.throttled', { seconds: e.retryAfter ?? 60 }));
      else if (e instanceof ApiError && e.status === 401) setError(t('login.failed'));
      else if (e instanceof ApiError && e.status === 0) setError(t('login.unreachable'));
      else setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div
      style={{
        minHeight: '100vh',
        display: 'flex',
        alignItems: 'center',
        justifyContent: 'center',
        padding: 16,
        background: 'linear-gradient(135deg, #001529 0%, #0b2f57 55%, #1668dc 100%)',
      }}
    >
      <Card style={{ width: '100%', maxWidth: 380, boxShadow: '0 12px 40px rgba(0,0,0,0.35)' }} data-testid="login-card">
        <div style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'center', marginBottom: 16 }}>
          <span style={{ display: 'flex', alignItems: 'center', gap: 10 }}>
            <img src="/favicon.svg" alt="" width={32} height={32} />
            <Typography.Title level={4} style={{ margin: 0 }}>
              {t('login.title')}
            </Typography.Title>
          </span>
          <LangSwitch />
        </div>
        {params.get('next') && !error ? (
          <Alert type="info" showIcon title={t('login.expired')} style={{ marginBottom: 16 }} />
        ) : null}
        {needOtp && !error ? (
          <Alert type="info" showIcon title={t('login.otpPrompt')} style={{ marginBottom: 16 }} data-testid="otp-prompt" />
        ) : null}
        {error ? (
          <Alert type="error" showIcon title={error} style={{ marginBottom: 16 }} data-testid="login-error" role="alert" />
        ) : null}
        <Form<Fields> layout="vertical" onFinish={onFinish} requiredMark={false} disabled={busy}>
          <Form.Item
            name="username"
            label={t('login.username')}
            rules={[{ required: true, message: t('login.required', { field: t('login.username') }) }]}
          >
            <Input prefix={<UserOutlined />} autoComplete="username" autoFocus id="username" />
          </Form.Item>
          <Form.Item
            name="password"
            label={t('login.password')}
            rules={[{ required: true, message: t('login.required', { field: t('login.password') }) }]}
          >
            <Input.Password prefix={<LockOutlined />} autoComplete="current-password" id="password" />
          </Form.Item>
          {needOtp ? (
            <Form.Item
              name="otp"
              label={t('login.otp')}
              rules={[
                { required: true, message: t('login.required', { field: t('login.otp') }) },
                { pattern: /^[0-9]{6}$/, message: t('login.otpFormat') },
              ]}
            >
              <Input
                prefix={<SafetyOutlined />}
                autoComplete="one-time-code"
                inputMode="numeric"
                maxLength={6}
                autoFocus
                id="otp"
                data-testid="login-otp"
              />
            </Form.Item>
          ) : null}
          <Button type="primary" htmlType="submit" block loading={busy} data-testid="login-submit">
            {t('login.submit')}
          </Button>
        </Form>
        <Typography.Paragraph type="secondary" style={{ fontSize: 12, marginTop: 16, marginBottom: 0 }}>
          {t('login.hint')}
        </Typography.Paragraph>
      </Card>
    </div>
  );
}
