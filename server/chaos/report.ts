/** Appends each scenario's measured figures to chaos/results.log (RELIABILITY.md quotes them) and prints them. */
import { appendFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Report, formatReport } from './accounting';

export function record(name: string, rep: Report, ms: number): void {
  const line = formatReport(name, rep, ms);
  console.log(line);
  appendFileSync(resolve(import.meta.dirname, 'results.log'), `${new Date().toISOString()} ${line}\n`);
}

/** Appends a free-form line (a scenario's own figures) to chaos/results.log and prints it. */
export function note(line: string): void {
  console.log(line);
  appendFileSync(resolve(import.meta.dirname, 'results.log'), `${new Date().toISOString()} ${line}\n`);
}
