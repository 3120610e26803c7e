/**
 * The widget's only storage: localStorage keys `hark:<site>:<name>`. Every access is
 * guarded (storage may be blocked, full, or hold junk written by someone else), and
 * every value read back is checked before use (STYLE.md: parse at every boundary).
 */
import { storageKey } from './ctx';

export interface KV {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  removeItem(k: string): void;
  key(i: number): string | null;
  readonly length: number;
}

export class Persist {
  constructor(
    readonly site: string,
    private readonly kv: KV | null,
  ) {}

  key(name: string): string {
    return storageKey(this.site, name);
  }

  get(name: string): string | null {
    try {
      return this.kv?.getItem(this.key(name)) ?? null;
    } catch {
      return null;
    }
  }

  json<T>(name: string, check: (v: unknown) => v is T): T | null {
    const raw = this.get(name);
    if (raw === null) return null;
    try {
      const v: unknown = JSON.parse(raw);
      return check(v) ? v : null;
    } catch {
      return null;
    }
  }

  set(name: string, value: string | object | null): void {
    try {
      if (value === null) this.kv?.removeItem(this.key(name));
      else this.kv?.setItem(this.key(name), typeof value === 'string' ? value : JSON.stringify(value));
    } catch {
      // Full or blocked: the widget keeps working from memory.
    }
  }
}

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isStringMap = (v: unknown): v is Record<string, string> => isRecord(v) && Object.values(v).every((x) => typeof x === 'string');
