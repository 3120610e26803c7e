/**
 * The chaos suite's witness of the domain event log: a transactional consumer that
 * counts each `message.created` in the ack's own script (so exactly once, if the log
 * keeps its promise), and a side-effecting one that counts every time its handler
 * runs (at least once: a higher count is a redelivery). Registered in every chaos
 * gateway (gateway-proc.ts); the accounting checker reads both.
 */
import type { EventConsumer } from '../src/domain/event-consumers';
import { partitionForKey, partitionKey } from '../src/store/event-log';
import type { ScriptedRedis } from '../src/redis/scripts';

export const COUNT_SUFFIX = 'chaos:msgs';
export const SEEN_KEY = 'hark:chaos:seen';

const member = (conv: string, entry: string) => `${conv}/${entry}`;

export function chaosConsumers(cmd: ScriptedRedis): EventConsumer[] {
  return [
    {
      name: 'chaos-count',
      types: ['message.created'],
      handleTx(e, tx) {
        if (e.type !== 'message.created') return;
        tx.call('HINCRBY', [tx.key(COUNT_SUFFIX)], member(e.conv, e.entry), 1);
      },
    },
    {
      name: 'chaos-seen',
      types: ['message.created'],
      async handle(e) {
        if (e.type !== 'message.created') return;
        await cmd.hincrby(SEEN_KEY, member(e.conv, e.entry), 1);
      },
    },
  ];
}

/** How many times each (conversation, entry) was counted by the exactly-once consumer, and seen by the at-least-once one. */
export async function eventCounts(cmd: ScriptedRedis, msgs: { conv: string; id: string }[]): Promise<{ counted: number[]; seen: number[] }> {
  const counted = await Promise.all(msgs.map((m) => cmd.hget(partitionKey(partitionForKey(m.conv), COUNT_SUFFIX), member(m.conv, m.id))));
  const seen = await Promise.all(msgs.map((m) => cmd.hget(SEEN_KEY, member(m.conv, m.id))));
  return { counted: counted.map((x) => Number(x ?? 0)), seen: seen.map((x) => Number(x ?? 0)) };
}
