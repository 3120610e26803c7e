/** Latency histograms (HDR, microsecond resolution, 3 significant digits) and their summary. */
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

export function histogram(): Histogram {
  // 1 µs .. 60 s: anything slower than a minute is a failure, not a latency.
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Percentiles in milliseconds. */
export function summary(h: Histogram): Percentiles {
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
  };
}

/** Records `ms` (a performance.now() difference) as microseconds. */
export function record(h: Histogram, ms: number): void {
  h.recordValue(Math.max(1, Math.round(ms * 1000)));
}
