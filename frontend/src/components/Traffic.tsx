// SPDX-License-Identifier: ISC
// Bytes in (public -> client) and out (client -> public) with arrows.
import { ArrowDownOutlined, ArrowUpOutlined } from '@ant-design/icons';
import { formatBytes } from './format';

/** Bytes in and out, stacked (table) or on one line (cards). */
export function Traffic({ inBytes, outBytes, inline = false }: { inBytes: number; outBytes: number; inline?: boolean }) {
  const a = (
    <span style={{ whiteSpace: 'nowrap' }}>
      <ArrowDownOutlined style={{ color: '#52c41a' }} /> {formatBytes(inBytes)}
    </span>
  );
  const b = (
    <span style={{ whiteSpace: 'nowrap' }}>
      <ArrowUpOutlined style={{ color: '#722ed1' }} /> {formatBytes(outBytes)}
    </span>
  );
  return inline ? (
    <span>
      {a} {b}
    </span>
  ) : (
    <div style={{ lineHeight: 1.4 }}>
      <div>{a}</div>
      <div>{b}</div>
    </div>
  );
}

