/**
 * What chat-files.js gets instead of Preact: the chat's own `h` and `Fragment`, handed over when it
 * loads (build.mjs resolves `preact` to this file for that bundle), so its vnodes are the chat's and
 * no second copy of Preact is downloaded.
 */
import type { Fragment as F, h as H } from 'preact';
export type { JSX } from 'preact';

export let h: typeof H;
export let Fragment: typeof F;
export function use(p: { h: typeof H; F: typeof F }): void {
  h = p.h;
  Fragment = p.F;
}
