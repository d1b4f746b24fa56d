// SPDX-License-Identifier: ISC
// The console's routes; everything but /login needs a session.
import { lazy, Suspense, type ReactNode } from 'react';
import { Route, Routes } from 'react-router';
import { Card } from 'antd';
import { FullPageSpin, RequireAuth } from './auth/AuthProvider';
import { AppLayout } from './components/AppLayout';
import { LoadingState } from './components/StateView';
import LoginPage from './pages/Login/LoginPage';

const OverviewPage = lazy(() => import('./pages/Overview/OverviewPage'));
const ClientsPage = lazy(() => import('./pages/Clients/ClientsPage'));
const ClientDetailPage = lazy(() => import('./pages/ClientDetail/ClientDetailPage'));
const SessionsPage = lazy(() => import('./pages/Sessions/SessionsPage'));
const AlertsPage = lazy(() => import('./pages/Alerts/AlertsPage'));
const AuditPage = lazy(() => import('./pages/Audit/AuditPage'));
const NodesPage = lazy(() => import('./pages/Nodes/NodesPage'));
const AdminSessionsPage = lazy(() => import('./pages/AdminSessions/AdminSessionsPage'));
const CredentialsPage = lazy(() => import('./pages/Credentials/CredentialsPage'));
const NotFoundPage = lazy(() => import('./pages/NotFound/NotFoundPage'));

function Page({ children }: { children: ReactNode }) {
  return (
    <Suspense
      fallback={
        <Card>
          <LoadingState rows={8} />
        </Card>
      }
    >
      {children}
    </Suspense>
  );
}

/** All routes of the console. */
export function AppRoutes() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireAuth>
            <Suspense fallback={<FullPageSpin />}>
              <AppLayout />
            </Suspense>
          </RequireAuth>
        }
      >
        <Route index element={<Page><OverviewPage /></Page>} />
        <Route path="clients" element={<Page><ClientsPage /></Page>} />
        <Route path="clients/:id" element={<Page><ClientDetailPage /></Page>} />
        <Route path="sessions" element={<Page><SessionsPage /></Page>} />
        <Route path="alerts" element={<Page><AlertsPage /></Page>} />
        <Route path="audit" element={<Page><AuditPage /></Page>} />
        <Route path="nodes" element={<Page><NodesPage /></Page>} />
        <Route path="admin-sessions" element={<Page><AdminSessionsPage /></Page>} />
        <Route path="credentials" element={<Page><CredentialsPage /></Page>} />
        <Route path="*" element={<Page><NotFoundPage /></Page>} />
      </Route>
    </Routes>
  );
}
