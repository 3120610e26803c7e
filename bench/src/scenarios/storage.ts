/**
 * Storage cost: Redis bytes per stored message, measured with MEMORY USAGE on
 * conversations written through the real append path (appendEntry: the stream,
 * the client-id hash that makes resends safe, the meta hash's `last`).
 * Messages alternate visitor / operator with chat-sized texts (20–120 chars).
 */
import { connect } from '@hark/server/src/redis/client';
import { appendEntry, compactConversation } from '@hark/server/src/store/conversations';
import { K } from '@hark/server/src/store/keys';
import { randomId } from '@hark/shared';

export interface StorageResult {
  conversations: number;
  messagesPerConversation: number;
  /** Average text length, characters. */
  textChars: number;
  /** Bytes per message of the stream alone, of the client-id hash, and of everything the conversation holds (stream + cids + meta). */
  streamBytesPerMsg: number;
  cidsBytesPerMsg: number;
  totalBytesPerMsg: number;
  /** Redis `used_memory` growth per message over the whole run (includes allocator overhead). */
  usedMemoryPerMsg: number;
  /** The same conversations resolved and compacted (HARK_COMPACT_AFTER_DAYS): bytes per message of stream + packed key. */
  compactedBytesPerMsg: number;
}

const WORDS = 'hello thanks order delivery yes no please account password refund when where how could you help me with my the a is it today tomorrow invoice card shipping address'.split(' ');

function text(i: number): string {
  const want = 20 + ((i * 37) % 101);
  let s = '';
  for (let k = i; s.length < want; k++) s += `${WORDS[(k * 7) % WORDS.length]} `;
  return s.slice(0, want);
}

export async function storage(o: { redisUrl: string; conversations: number; messages: number }): Promise<StorageResult> {
  const c = connect({ url: o.redisUrl });
  try {
    await c.cmd.flushall();
    const mem = async () => Number(/used_memory:(\d+)/.exec(await c.cmd.info('memory'))?.[1] ?? 0);
    const before = await mem();
    const convs = Array.from({ length: o.conversations }, () => randomId(16));
    let chars = 0;
    const op = { id: randomId(12), name: 'Ana' };
    for (let m = 0; m < o.messages; m++) {
      await Promise.all(
        convs.map((conv, j) => {
          const t = text(m * o.conversations + j);
          chars += t.length;
          const from = m % 2 === 0 ? 'visitor' : 'operator';
          return appendEntry(c, { conv, at: Date.now(), kind: 'msg', from, text: t, cid: randomId(21), ...(from === 'operator' ? { op } : {}) }, from);
        }),
      );
    }
    const after = await mem();
    let stream = 0;
    let cids = 0;
    let meta = 0;
    for (const conv of convs) {
      stream += Number(await c.cmd.memory('USAGE', K.convStream(conv), 'SAMPLES', '0'));
      cids += Number(await c.cmd.memory('USAGE', K.convCids(conv), 'SAMPLES', '0'));
      meta += Number(await c.cmd.memory('USAGE', K.conv(conv), 'SAMPLES', '0'));
    }
    let packed = 0;
    for (const conv of convs) {
      await c.cmd.hset(K.conv(conv), 'status', 'resolved');
      await compactConversation(c.cmd, conv);
      for (const k of [K.convStream(conv), K.convCids(conv), K.convPacked(conv)]) packed += Number((await c.cmd.memory('USAGE', k, 'SAMPLES', '0')) ?? 0);
    }
    const n = o.conversations * o.messages;
    const per = (b: number) => Math.round(b / n);
    return {
      conversations: o.conversations,
      messagesPerConversation: o.messages,
      textChars: Math.round(chars / n),
      streamBytesPerMsg: per(stream),
      cidsBytesPerMsg: per(cids),
      totalBytesPerMsg: per(stream + cids + meta),
      usedMemoryPerMsg: per(after - before),
      compactedBytesPerMsg: per(packed),
    };
  } finally {
    await c.close();
  }
}
