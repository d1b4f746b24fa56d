// SPDX-License-Identifier: ISC
// Types of the gotunnel-admin REST API (docs/api.md). Times are unix seconds.

export interface ApiErrorBody {
  error: string;
}

export type Role = 'viewer' | 'operator' | 'admin';

export interface LoginReply {
  user: string;
  role: Role;
  csrf_token: string;
}

/** POST /api/login body; otp only for users enrolled in two-factor login. */
export interface LoginRequest {
  username: string;
  password: string;
  otp?: string;
}

export interface Me {
  user: string;
  role: Role;
  csrf_token: string;
  expires: number;
}

export interface Mapping {
  name: string;
  remote_port: number;
  /** tcp, udp, or http/https (virtual hosts: remote_port is the shared vhost port). */
  type?: string;
  /** The domains an http/https mapping serves ([] for tcp). */
  domains?: string[];
  local_ip: string;
  local_port: number;
  since: number;
  live_conns: number;
  total_conns: number;
  bytes_in: number;
  bytes_out: number;
  /** false while an operator has disabled it (public connections refused). */
  enabled?: boolean;
}

export interface Client {
  id: string;
  name: string;
  address: string;
  connected_since: number;
  last_heartbeat: number;
  worker: number;
  /** The node holding the session (cluster mode only). */
  node?: string;
  mappings: Mapping[];
  live_conns: number;
  bytes_in: number;
  bytes_out: number;
  /** The per-client credential it registered with ("" for the shared token). */
  credential?: string;
}

export interface LiveConn {
  id: string;
  remote_port: number;
  peer: string;
  since: number;
  bytes_in: number;
  bytes_out: number;
}

export interface ClientDetail extends Client {
  conns: LiveConn[];
}

export interface MappingRow extends Mapping {
  client_id: string;
  client_name: string;
}

export type HistoryKind = 'sessions' | 'conns';

export interface SessionItem {
  id: string;
  client_id: string;
  /** The node whose history this is (cluster mode only). */
  node?: string;
  name: string;
  address: string;
  start: number;
  end: number;
  status: 'online' | 'closed';
  reason: string;
  ports: string;
  bytes_in: number;
  bytes_out: number;
}

export interface ConnItem {
  id: string;
  client_id: string;
  /** The node whose history this is (cluster mode only). */
  node?: string;
  client_name: string;
  mapping: string;
  remote_port: number;
  local_port: number;
  peer: string;
  start: number;
  end: number;
  status: 'open' | 'closed';
  reason: string;
  bytes_in: number;
  bytes_out: number;
}

export interface Page<T> {
  total: number;
  page: number;
  per_page: number;
  items: T[];
}

export interface HistoryPage<T> extends Page<T> {
  kind: HistoryKind;
}

export interface HistoryFilter {
  kind: HistoryKind;
  client?: string;
  name?: string;
  port?: number;
  from?: number;
  to?: number;
  status?: string;
  q?: string;
}

export type StatsRange = '1h' | '24h' | '7d';

export interface StatsPoint {
  t: number;
  online_clients: number;
  active_conns: number;
  new_conns: number;
  bytes_in: number;
  bytes_out: number;
}

export interface StatsNow {
  online_clients: number;
  mappings: number;
  active_conns: number;
  bytes_today_in: number;
  bytes_today_out: number;
}

export interface Stats {
  range: StatsRange;
  step: number;
  points: StatsPoint[];
  now: StatsNow;
}

/** The `stats` tick of the event stream, every 2 s. */
export interface StatsTick {
  online_clients: number;
  mappings: number;
  active_conns: number;
  bytes_in: number;
  bytes_out: number;
}

/** A `conn_open` / `conn_close` event: a public connection (history conn item). */
export type ConnEvent = Partial<ConnItem> & { id: string; client_id?: string };

export interface ClientOffline {
  id: string;
  name: string;
}

export interface AuditItem {
  id: string;
  time: number;
  user: string;
  action:
    | 'login'
    | 'logout'
    | 'disconnect'
    | 'forbidden'
    | 'session_revoke'
    | 'user_add'
    | 'user_del'
    | 'user_passwd'
    | 'user_role'
    | 'user_totp'
    | 'user_totp_off'
    | string;
  ok: boolean;
  address: string;
  detail: string;
}

/** How long the master keeps history (seconds, records; 0: forever / no cap). */
export interface Retention {
  history_retention: number;
  history_max_records: number;
  audit_retention: number;
}

/** GET /api/settings: what an operator hands to clients, and the retention. */
export interface Settings extends Retention {
  /** "sha256:" + 64 hex digits of the master's certificate, null without tls_cert_file. */
  tls_fingerprint: string | null;
  tls: boolean;
  tls_error?: string;
}

/** One console login session (GET /api/admin-sessions). */
export interface AdminSession {
  handle: string;
  user: string;
  address: string;
  created: number;
  expires: number;
  current: boolean;
}

/** A per-client credential (GET /api/tokens); the secret is never listed. */
export interface Token {
  name: string;
  state: 'active' | 'expired' | 'revoked';
  /** Remote ports it may register (allow_ports syntax), "" any. */
  ports: string;
  /** Unix seconds, 0 never. */
  expires: number;
  /** 0 no limit. */
  max_mappings: number;
  allow: string[];
  deny: string[];
  created: number;
  /** Last register with it, 0 never. */
  last_used: number;
  revoked: boolean;
}

/** What POST /api/tokens takes. */
export interface NewToken {
  name: string;
  ports?: string;
  /** A duration such as "30d", "12h", "3600"; "" never. */
  expires?: string;
  max_mappings?: number;
  allow?: string[];
  deny?: string[];
}

/** A credential with its secret: only in the replies of add and rotate. */
export interface TokenWithSecret extends Token {
  secret: string;
}

/** One master of the cluster (GET /api/nodes, as gotunnelctl nodes --json). */
export interface ClusterNode {
  name: string;
  advertise_addr: string;
  status: 'online' | 'offline';
  last_seen: number;
  clients: number;
  connections: number;
  version: string;
}

export type AlertState = '' | 'firing' | 'resolved';

/** One alert episode (GET /api/alerts): end is 0 while it fires. */
export interface AlertItem {
  id: string;
  receiver: string;
  alert: 'client_offline' | 'traffic_quota' | 'auth_failures' | 'node_offline' | string;
  key: string;
  state: 'firing' | 'resolved';
  since: number;
  end: number;
  detail: Record<string, string | number>;
}

export interface AlertPage extends Page<AlertItem> {
  firing: number;
}
