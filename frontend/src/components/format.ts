// SPDX-License-Identifier: ISC
// Formatting of bytes, times and durations for tables and cards.
import dayjs from 'dayjs';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 -> "1.5 KiB". */
export function formatBytes(n: number | undefined | null): string {
  if (n === undefined || n === null || !Number.isFinite(n) || n < 0) return '—';
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = i === 0 || v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${UNITS[i]}`;
}

/** Unix seconds -> "2026-11-25 22:10:04"; 0 -> "—". */
export function formatTime(t: number | undefined | null): string {
  if (!t) return '—';
  return dayjs.unix(t).format('YYYY-MM-DD HH:mm:ss');
}

/** Unix seconds -> "11-25 22:10:04" (the year only when it is not this year). */
export function formatTimeShort(t: number | undefined | null): string {
  if (!t) return '—';
  const d = dayjs.unix(t);
  return d.format(d.year() === dayjs().year() ? 'MM-DD HH:mm:ss' : 'YYYY-MM-DD HH:mm');
}

/** Unix seconds -> "3 minutes ago" in the current dayjs locale. */
export function formatAgo(t: number | undefined | null): string {
  if (!t) return '—';
  return dayjs.unix(t).fromNow();
}

/** Unix seconds -> compact "12s ago" / "12秒前" (for narrow table cells). */
export function formatAgoShort(t: number | undefined | null, nowMs = Date.now()): string {
  if (!t) return '—';
  const d = Math.max(0, Math.floor(nowMs / 1000 - t));
  const zh = dayjs.locale() === 'zh-cn';
  const [n, en, cn] =
    d < 60 ? [d, 's', '秒'] : d < 3600 ? [Math.floor(d / 60), 'm', '分钟'] : d < 86400 ? [Math.floor(d / 3600), 'h', '小时'] : [Math.floor(d / 86400), 'd', '天'];
  return zh ? `${n}${cn}前` : `${n}${en} ago`;
}

/** Seconds -> "1d 2h", "3h 4m", "5m 6s", "7s". */
export function formatDuration(sec: number | undefined | null): string {
  if (sec === undefined || sec === null || !Number.isFinite(sec) || sec < 0) return '—';
  const s = Math.floor(sec);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${r}s`;
  return `${r}s`;
}

/** Step seconds -> "1 min", "15 min", "1 h". */
export function formatStep(step: number): string {
  if (step % 3600 === 0) return `${step / 3600} h`;
  if (step % 60 === 0) return `${step / 60} min`;
  return `${step} s`;
}

/** Shortens a long id for a table cell. */
export function shortId(id: string): string {
  return id.length > 12 ? id.slice(0, 8) + '…' : id;
}
