/**
 * CPU time of processes from /proc/<pid>/stat (utime + stime), to show who used the 2 cores in
 * each phase: the bench's own children by pid, and the machine's PostgreSQL and Redis servers
 * by process name (every `postgres` backend summed; read-only, nothing is signalled).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds `pid` has used so far, or undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of the whole machine (first line of /proc/stat). */
function machineJiffies(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
    return { busy: total - v[3]! - v[4]!, total };
  } catch {
    return undefined;
  }
}

/** Pids whose /proc/<pid>/comm is `name`. */
export function pidsNamed(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** A process (fixed pid) or a group of processes found by name at each reading. */
export type CpuSubject = number | undefined | { name: string };

function pidsOf(subject: CpuSubject): number[] {
  if (subject === undefined) return [];
  return typeof subject === 'number' ? [subject] : pidsNamed(subject.name);
}

/** Measures the CPU use of named subjects over a window, as % of one core. */
export class CpuWindow {
  private readonly start = new Map<string, Map<number, number>>();
  private readonly startedAt = Date.now();
  private readonly machineStart = machineJiffies();

  constructor(private readonly subjects: Record<string, CpuSubject>) {
    for (const [name, subject] of Object.entries(subjects)) {
      const perPid = new Map<number, number>();
      for (const pid of pidsOf(subject)) {
        const s = cpuSeconds(pid);
        if (s !== undefined) perPid.set(pid, s);
      }
      this.start.set(name, perPid);
    }
  }

  /**
   * { name: % of one core } since the window opened (200 = both cores of this machine). A process
   * born during the window counts with all its CPU time; one that died during it is not counted.
   * `machine` is the whole machine's busy time and `other` what no subject accounts for: work of
   * anything else running on the machine meanwhile (it skews the numbers when high).
   */
  end(): Record<string, number> {
    const wall = (Date.now() - this.startedAt) / 1000;
    const out: Record<string, number> = {};
    for (const [name, subject] of Object.entries(this.subjects)) {
      const before = this.start.get(name)!;
      let used = 0;
      let seen = false;
      for (const pid of pidsOf(subject)) {
        const after = cpuSeconds(pid);
        if (after === undefined) continue;
        seen = true;
        used += after - (before.get(pid) ?? 0);
      }
      if (seen && wall > 0) out[name] = Math.round((used / wall) * 100);
    }
    const machineEnd = machineJiffies();
    if (this.machineStart && machineEnd && machineEnd.total > this.machineStart.total) {
      const share = (machineEnd.busy - this.machineStart.busy) / (machineEnd.total - this.machineStart.total);
      out.machine = Math.round(share * cpus().length * 100);
      const known = Object.entries(out).reduce((sum, [k, v]) => (k === 'machine' ? sum : sum + v), 0);
      out.other = Math.max(0, out.machine - known);
    }
    return out;
  }
}
