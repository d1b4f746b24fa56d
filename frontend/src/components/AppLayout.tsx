// SPDX-License-Identifier: ISC
// The console frame: navigation, live badge, language switch, user menu.
import { useState } from 'react';
import { Link, Outlet, useLocation, useNavigate } from 'react-router';
import { Button, Drawer, Dropdown, Grid, Layout, Menu, Space, Typography } from 'antd';
import {
  ApiOutlined,
  AlertOutlined,
  AuditOutlined,
  ClusterOutlined,
  DashboardOutlined,
  HistoryOutlined,
  KeyOutlined,
  LogoutOutlined,
  MenuOutlined,
  SafetyCertificateOutlined,
  UserOutlined,
} from '@ant-design/icons';
import { useAuth } from '../auth/context';
import { useClusterMode } from '../hooks/useClusterMode';
import { EventsProvider } from '../hooks/EventsProvider';
import { useI18n } from '../i18n/context';
import { LangSwitch } from './LangSwitch';
import { LiveBadge } from './LiveBadge';

const { Header, Sider, Content } = Layout;

/** The menu key of a path: "/clients/abc" -> "/clients". */
function menuKey(path: string): string {
  const first = path.split('/')[1] ?? '';
  return first ? '/' + first : '/';
}

/** The brand block at the top of the navigation. */
function Brand() {
  const { t } = useI18n();
  return (
    <Link to="/" style={{ display: 'flex', alignItems: 'center', gap: 10, padding: '16px 20px', color: '#fff' }}>
      <img src="/favicon.svg" alt="" width={28} height={28} />
      <span style={{ lineHeight: 1.1 }}>
        <span style={{ fontWeight: 600, fontSize: 17, display: 'block' }}>{t('app.title')}</span>
        <span style={{ fontSize: 11, opacity: 0.65 }}>{t('app.subtitle')}</span>
      </span>
    </Link>
  );
}

/** The frame around every logged-in page. */
export function AppLayout() {
  const { t } = useI18n();
  const { user, role, logout, expire } = useAuth();
  const loc = useLocation();
  const navigate = useNavigate();
  const screens = Grid.useBreakpoint();
  const mobile = screens.md === false;
  const [drawer, setDrawer] = useState(false);
  const cluster = useClusterMode();

  const items = [
    { key: '/', icon: <DashboardOutlined />, label: <Link to="/">{t('nav.overview')}</Link> },
    { key: '/clients', icon: <ApiOutlined />, label: <Link to="/clients">{t('nav.clients')}</Link> },
    { key: '/sessions', icon: <HistoryOutlined />, label: <Link to="/sessions">{t('nav.sessions')}</Link> },
    { key: '/alerts', icon: <AlertOutlined />, label: <Link to="/alerts">{t('nav.alerts')}</Link> },
    { key: '/credentials', icon: <KeyOutlined />, label: <Link to="/credentials">{t('nav.credentials')}</Link> },
    { key: '/audit', icon: <AuditOutlined />, label: <Link to="/audit">{t('nav.audit')}</Link> },
    // Only a master in cluster mode has nodes (/api/nodes answers).
    ...(cluster ? [{ key: '/nodes', icon: <ClusterOutlined />, label: <Link to="/nodes">{t('nav.nodes')}</Link> }] : []),
    {
      key: '/admin-sessions',
      icon: <SafetyCertificateOutlined />,
      label: <Link to="/admin-sessions">{t('nav.adminSessions')}</Link>,
    },
  ];
  const menu = (
    <Menu
      theme="dark"
      mode="inline"
      selectedKeys={[menuKey(loc.pathname)]}
      items={items}
      onClick={() => setDrawer(false)}
      data-testid="nav-menu"
    />
  );

  const onSessionGone = () => {
    expire();
    navigate('/login?next=' + encodeURIComponent(loc.pathname + loc.search), { replace: true });
  };

  return (
    <EventsProvider onSessionGone={onSessionGone}>
      <Layout style={{ minHeight: '100vh' }}>
        {!mobile && (
          <Sider width={208}>
            <div style={{ position: 'sticky', top: 0 }}>
              <Brand />
              {menu}
            </div>
          </Sider>
        )}
        {mobile && (
          <Drawer
            placement="left"
            open={drawer}
            onClose={() => setDrawer(false)}
            size={240}
            styles={{ body: { padding: 0, background: '#001529' }, header: { display: 'none' } }}
          >
            <Brand />
            {menu}
          </Drawer>
        )}
        <Layout>
          <Header
            style={{
              display: 'flex',
              alignItems: 'center',
              justifyContent: 'space-between',
              gap: 12,
              padding: mobile ? '0 12px' : '0 24px',
              borderBottom: '1px solid #f0f0f0',
              position: 'sticky',
              top: 0,
              zIndex: 10,
            }}
          >
            <Space size={12}>
              {mobile && (
                <Button icon={<MenuOutlined />} onClick={() => setDrawer(true)} aria-label="menu" data-testid="menu-button" />
              )}
              {mobile && <Typography.Text strong>{t('app.title')}</Typography.Text>}
              <LiveBadge compact={mobile} />
            </Space>
            <Space size={mobile ? 8 : 16}>
              <LangSwitch />
              <Dropdown
                trigger={['click']}
                menu={{
                  items: [
                    { key: 'who', label: t('header.signedInAs', { user }), disabled: true },
                    { key: 'role', label: t('header.role', { role: t(`role.${role}`) }), disabled: true },
                    { type: 'divider' },
                    { key: 'logout', icon: <LogoutOutlined />, label: t('header.logout'), danger: true },
                  ],
                  onClick: ({ key }) => {
                    if (key === 'logout') void logout();
                  },
                }}
              >
                <Button type="text" icon={<UserOutlined />} data-testid="user-menu">
                  {mobile ? null : user}
                </Button>
              </Dropdown>
            </Space>
          </Header>
          <Content style={{ padding: mobile ? 12 : 20, minWidth: 0 }}>
            <Outlet />
          </Content>
        </Layout>
      </Layout>
    </EventsProvider>
  );
}
