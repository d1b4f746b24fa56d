// SPDX-License-Identifier: ISC
// The overview's charts (recharts, SVG) in Ant Design cards.
import {
  Area,
  AreaChart,
  Bar,
  CartesianGrid,
  ComposedChart,
  Legend,
  Line,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import dayjs from 'dayjs';
import type { StatsPoint, StatsRange } from '../../types/api';
import { formatBytes } from '../../components/format';

const BLUE = '#1668dc';
const GREEN = '#52c41a';
const ORANGE = '#fa8c16';
const PURPLE = '#722ed1';

function tickFormat(range: StatsRange) {
  const f = range === '7d' ? 'MM-DD HH:mm' : 'HH:mm';
  return (t: number) => dayjs.unix(t).format(f);
}

function fullTime(t: unknown): string {
  return typeof t === 'number' ? dayjs.unix(t).format('YYYY-MM-DD HH:mm') : String(t);
}

interface ChartProps {
  points: StatsPoint[];
  range: StatsRange;
  height?: number;
}

/** Online clients over time (a stepped area). */
export function ClientsChart({ points, range, height = 240, label }: ChartProps & { label: string }) {
  return (
    <div style={{ width: '100%', height }} data-testid="chart-clients">
      <ResponsiveContainer width="100%" height="100%" initialDimension={{ width: 480, height }}>
        <AreaChart data={points} margin={{ top: 8, right: 12, left: -12, bottom: 0 }}>
          <defs>
            <linearGradient id="gtClients" x1="0" y1="0" x2="0" y2="1">
              <stop offset="0%" stopColor={BLUE} stopOpacity={0.35} />
              <stop offset="100%" stopColor={BLUE} stopOpacity={0.02} />
            </linearGradient>
          </defs>
          <CartesianGrid strokeDasharray="3 3" stroke="#f0f0f0" vertical={false} />
          <XAxis dataKey="t" tickFormatter={tickFormat(range)} minTickGap={40} fontSize={12} stroke="#8c8c8c" />
          <YAxis allowDecimals={false} fontSize={12} stroke="#8c8c8c" />
          <Tooltip labelFormatter={fullTime} />
          <Area
            type="stepAfter"
            dataKey="online_clients"
            name={label}
            stroke={BLUE}
            strokeWidth={2}
            fill="url(#gtClients)"
            isAnimationActive={false}
          />
        </AreaChart>
      </ResponsiveContainer>
    </div>
  );
}

/** Bytes in and out per interval. */
export function TrafficChart({ points, range, height = 240, labels }: ChartProps & { labels: [string, string] }) {
  return (
    <div style={{ width: '100%', height }} data-testid="chart-traffic">
      <ResponsiveContainer width="100%" height="100%" initialDimension={{ width: 480, height }}>
        <AreaChart data={points} margin={{ top: 8, right: 12, left: 4, bottom: 0 }}>
          <defs>
            <linearGradient id="gtIn" x1="0" y1="0" x2="0" y2="1">
              <stop offset="0%" stopColor={GREEN} stopOpacity={0.35} />
              <stop offset="100%" stopColor={GREEN} stopOpacity={0.02} />
            </linearGradient>
            <linearGradient id="gtOut" x1="0" y1="0" x2="0" y2="1">
              <stop offset="0%" stopColor={PURPLE} stopOpacity={0.3} />
              <stop offset="100%" stopColor={PURPLE} stopOpacity={0.02} />
            </linearGradient>
          </defs>
          <CartesianGrid strokeDasharray="3 3" stroke="#f0f0f0" vertical={false} />
          <XAxis dataKey="t" tickFormatter={tickFormat(range)} minTickGap={40} fontSize={12} stroke="#8c8c8c" />
          <YAxis tickFormatter={(v: number) => formatBytes(v)} fontSize={12} width={72} stroke="#8c8c8c" />
          <Tooltip labelFormatter={fullTime} formatter={(v) => formatBytes(Number(v))} />
          <Legend verticalAlign="top" height={28} iconType="plainline" />
          <Area type="monotone" dataKey="bytes_in" name={labels[0]} stroke={GREEN} strokeWidth={2} fill="url(#gtIn)" isAnimationActive={false} />
          <Area type="monotone" dataKey="bytes_out" name={labels[1]} stroke={PURPLE} strokeWidth={2} fill="url(#gtOut)" isAnimationActive={false} />
        </AreaChart>
      </ResponsiveContainer>
    </div>
  );
}

/** Active connections (line) and new connections per interval (bars). */
export function ConnsChart({ points, range, height = 240, labels }: ChartProps & { labels: [string, string] }) {
  return (
    <div style={{ width: '100%', height }} data-testid="chart-conns">
      <ResponsiveContainer width="100%" height="100%" initialDimension={{ width: 480, height }}>
        <ComposedChart data={points} margin={{ top: 8, right: 12, left: -12, bottom: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#f0f0f0" vertical={false} />
          <XAxis dataKey="t" tickFormatter={tickFormat(range)} minTickGap={40} fontSize={12} stroke="#8c8c8c" />
          <YAxis allowDecimals={false} fontSize={12} stroke="#8c8c8c" />
          <Tooltip labelFormatter={fullTime} />
          <Legend verticalAlign="top" height={28} />
          <Bar dataKey="new_conns" name={labels[1]} fill={ORANGE} fillOpacity={0.75} isAnimationActive={false} />
          <Line type="monotone" dataKey="active_conns" name={labels[0]} stroke={BLUE} strokeWidth={2} dot={false} isAnimationActive={false} />
        </ComposedChart>
      </ResponsiveContainer>
    </div>
  );
}
