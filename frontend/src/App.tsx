// SPDX-License-Identifier: ISC
// The console's root: router, language, session.
import { BrowserRouter } from 'react-router';
import { App as AntApp } from 'antd';
import { AuthProvider } from './auth/AuthProvider';
import { I18nProvider } from './i18n/I18nProvider';
import { AppRoutes } from './routes';

/** The whole console. */
export default function App() {
  return (
    <I18nProvider>
      <AntApp>
        <BrowserRouter>
          <AuthProvider>
            <AppRoutes />
          </AuthProvider>
        </BrowserRouter>
      </AntApp>
    </I18nProvider>
  );
}
