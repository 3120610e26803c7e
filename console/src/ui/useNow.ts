import { useEffect, useState } from 'preact/hooks';

/** The current time, re-rendering every `everyMs`: drives live waiting-time counters. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(id);
  }, [everyMs]);
  return now;
}
