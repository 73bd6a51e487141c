/** Progress of the long phases on stderr (cli-progress; also prints every few seconds when stderr is not a terminal). */
import cliProgress from 'cli-progress';

export function note(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

export interface Bar {
  update(value: number, info?: string): void;
  stop(): void;
}

/** A bar from 0 to `total` with a free-text `info` column (e.g. current req/s). */
export function bar(title: string, total: number, unit: string): Bar {
  const b = new cliProgress.SingleBar(
    {
      format: `${title.padEnd(22)} [{bar}] {value}/{total} ${unit} | {info}`,
      stream: process.stderr,
      barsize: 24,
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 3000,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  b.start(total, 0, { info: '' });
  let stopped = false;
  return {
    update: (value, info = '') => {
      if (!stopped) b.update(Math.min(value, total), { info });
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      b.stop();
    },
  };
}
