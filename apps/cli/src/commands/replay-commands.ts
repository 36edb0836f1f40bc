import { readFileSync } from 'node:fs';
import { Command } from 'commander';

/** Options every command that talks to the HTTP API shares. */
interface ApiOptions {
  api: string;
  apiKey?: string;
}

function addApiOptions(command: Command): Command {
  return command
    .option(
      '--api <url>',
      'base URL of the Cepheus API (env CEPHEUS_API_URL)',
      process.env.CEPHEUS_API_URL ?? 'http://127.0.0.1:3000',
    )
    .option('--api-key <key>', 'API key (env CEPHEUS_API_KEY)', process.env.CEPHEUS_API_KEY);
}

/** Calls the API; a refusal or an error becomes an exception carrying the API's own message and field errors. */
async function call<T>(
  options: ApiOptions,
  method: string,
  path: string,
  body?: unknown,
  contentType?: string,
): Promise<T> {
  const headers: Record<string, string> = {};
  if (options.apiKey) headers['X-API-Key'] = options.apiKey;
  if (body !== undefined) headers['Content-Type'] = contentType ?? 'application/json';
  let response: Response;
  try {
    response = await fetch(`${options.api.replace(/\/$/, '')}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  } catch (error) {
    throw new Error(`cannot reach the API at ${options.api}: ${(error as Error).message}`);
  }
  const text = await response.text();
  const parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
  if (!response.ok) {
    const problem = parsed as { message?: string; errors?: Array<{ field: string; reason: string }> } | undefined;
    const fields = (problem?.errors ?? []).map((e) => `\n  ${e.field}: ${e.reason}`).join('');
    throw new Error(`${method} ${path}: ${response.status} ${problem?.message ?? text}${fields}`);
  }
  return parsed as T;
}

interface ReplayView {
  id: string;
  state: string;
  outputTopic: string;
  progress: { eventsRead?: number; eventsTotal?: number; alerts?: number; fraction?: number } | number | null;
  summary: { status: string; eventsRead: number; alerts: number; durationMs: number } | null;
  failedReason: string | null;
}

const TERMINAL = new Set(['completed', 'cancelled', 'failed']);

/** One progress line on stderr: redrawn in place on a terminal, one line per change otherwise (logs, tests). */
function progressLine(view: ReplayView): string {
  const p = typeof view.progress === 'object' && view.progress !== null ? view.progress : {};
  const fraction = p.fraction ?? 0;
  const width = 30;
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(1)}% ${p.eventsRead ?? 0}/${p.eventsTotal ?? '?'} events, ${p.alerts ?? 0} alerts (${view.state})`;
}

async function watch(options: ApiOptions, id: string, intervalMs: number): Promise<ReplayView> {
  let last = '';
  for (;;) {
    const view = await call<ReplayView>(options, 'GET', `/replays/${encodeURIComponent(id)}`);
    const line = progressLine(view);
    if (line !== last) {
      process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`);
      last = line;
    }
    if (TERMINAL.has(view.state)) {
      if (process.stderr.isTTY) process.stderr.write('\n');
      return view;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** 0 completed, 1 failed, 3 cancelled: a script can tell them apart. */
function exitCodeOf(view: ReplayView): number {
  if (view.state === 'completed') return 0;
  if (view.state === 'cancelled') return 3;
  return 1;
}

function parseTime(text: string): number | string {
  return /^\d+$/.test(text) ? Number(text) : text;
}

/** `0:100-200,1:50-` → offsets per partition (`to` left open = the end when the replay starts). */
function parseOffsets(text: string): Array<{ partition: number; from: string; to?: string }> {
  return text.split(',').map((part) => {
    const match = /^(\d+):(\d+)-(\d*)$/.exec(part.trim());
    if (!match) throw new Error(`--offsets: "${part}" is not partition:from-to (e.g. 0:100-200 or 0:100-)`);
    return { partition: Number(match[1]), from: match[2], to: match[3] === '' ? undefined : match[3] };
  });
}

function parseVersions(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(',')) {
    const [id, version] = part.split('=');
    if (!id || !/^\d+$/.test(version ?? '')) throw new Error(`--versions: "${part}" is not id=version`);
    out[id] = Number(version);
  }
  return out;
}

interface StartOptions extends ApiOptions {
  id?: string;
  from?: string;
  to?: string;
  offsets?: string;
  upload?: string;
  versions?: string;
  candidate?: string;
  withCurrent: boolean;
  outOfOrderness?: string;
  closeWindows: boolean;
  wait: boolean;
  interval: string;
}

export function replayCommand(): Command {
  const replay = new Command('replay').description('backtest rules over a past range of the events topic or a file');

  addApiOptions(
    replay
      .command('start')
      .description('start a replay; its alerts go to alerts.replay.<id>; with --wait, show progress until it ends')
      .option('--id <id>', 'replay id (default: random)')
      .option('--from <time>', 'time range start: epoch ms or ISO-8601 (Kafka message time)')
      .option('--to <time>', 'time range end, exclusive (default: the end of the topic now)')
      .option('--offsets <list>', 'offset ranges instead: partition:from-to,... (to exclusive, may be empty)')
      .option('--upload <file>', 'replay a JSON-lines file of events instead of the topic')
      .option('--versions <list>', 'use these stored rule versions: id=version,... (default: the current rules)')
      .option('--candidate <file>', 'evaluate this rule (JSON file) that is not live')
      .option('--with-current', 'with --candidate: also run the current rules', false)
      .option('--out-of-orderness <ms>', 'event-time disorder tolerated (default: the API setting)')
      .option('--close-windows', 'close open windows at the end (the live run would not have yet)', false)
      .option('--wait', 'show progress and wait for the end; exit 0 completed, 3 cancelled, 1 failed', false)
      .option('--interval <ms>', 'progress poll interval with --wait', '500'),
  ).action(async (options: StartOptions) => {
    const sources = [options.from !== undefined, options.offsets !== undefined, options.upload !== undefined];
    if (sources.filter(Boolean).length !== 1) throw new Error('give exactly one of --from, --offsets, --upload');
    let source: unknown;
    if (options.from !== undefined) {
      source = {
        type: 'time',
        from: parseTime(options.from),
        ...(options.to === undefined ? {} : { to: parseTime(options.to) }),
      };
    } else if (options.offsets !== undefined) {
      source = { type: 'offsets', partitions: parseOffsets(options.offsets) };
    } else {
      const text = readFileSync(options.upload as string, 'utf8');
      const uploaded = await call<{ uploadId: string; lines: number }>(
        options,
        'POST',
        '/replays/uploads',
        text,
        'application/x-ndjson',
      );
      process.stderr.write(`uploaded ${uploaded.lines} lines as ${uploaded.uploadId}\n`);
      source = { type: 'upload', uploadId: uploaded.uploadId };
    }
    let rules: unknown = { mode: 'current' };
    if (options.versions !== undefined) rules = { mode: 'versions', versions: parseVersions(options.versions) };
    if (options.candidate !== undefined) {
      rules = {
        mode: 'candidate',
        rule: JSON.parse(readFileSync(options.candidate, 'utf8')) as unknown,
        withCurrent: options.withCurrent,
      };
    }
    const body = {
      ...(options.id === undefined ? {} : { id: options.id }),
      source,
      rules,
      ...(options.outOfOrderness === undefined ? {} : { outOfOrdernessMs: Number(options.outOfOrderness) }),
      ...(options.closeWindows ? { closeWindowsAtEnd: true } : {}),
    };
    const started = await call<ReplayView>(options, 'POST', '/replays', body);
    process.stderr.write(`replay ${started.id} started; alerts go to ${started.outputTopic}\n`);
    if (!options.wait) {
      process.stdout.write(`${started.id}\n`);
      return;
    }
    const final = await watch(options, started.id, Number(options.interval));
    process.stdout.write(
      `${JSON.stringify(final.summary ?? { state: final.state, failedReason: final.failedReason })}\n`,
    );
    process.exitCode = exitCodeOf(final);
  });

  addApiOptions(
    replay
      .command('status')
      .description("a replay's state, progress and summary (JSON); --watch follows it to the end")
      .argument('<id>')
      .option('--watch', 'show progress until it ends', false)
      .option('--interval <ms>', 'poll interval with --watch', '500'),
  ).action(async (id: string, options: ApiOptions & { watch: boolean; interval: string }) => {
    const view = options.watch
      ? await watch(options, id, Number(options.interval))
      : await call<ReplayView>(options, 'GET', `/replays/${encodeURIComponent(id)}`);
    process.stdout.write(`${JSON.stringify(view)}\n`);
    if (options.watch) process.exitCode = exitCodeOf(view);
  });

  addApiOptions(replay.command('cancel').description('cancel a replay').argument('<id>')).action(
    async (id: string, options: ApiOptions) => {
      const view = await call<ReplayView>(options, 'POST', `/replays/${encodeURIComponent(id)}/cancel`);
      process.stdout.write(`${view.id}: ${view.state}\n`);
    },
  );

  addApiOptions(replay.command('list').description('recent replays')).action(async (options: ApiOptions) => {
    for (const view of await call<ReplayView[]>(options, 'GET', '/replays')) {
      process.stdout.write(`${view.id}\t${view.state}\t${progressLine(view)}\n`);
    }
  });

  return replay;
}

interface SavepointView {
  id: string;
  createdAt: string;
  partitions: Array<{ partition: number; offset: string | null; bytes: number; note?: string }>;
}

export function savepointCommand(): Command {
  const savepoint = new Command('savepoint').description('savepoints of the engines’ state (admin key)');

  addApiOptions(savepoint.command('create').description('take a savepoint from the committed checkpoints')).action(
    async (options: ApiOptions) => {
      const view = await call<SavepointView>(options, 'POST', '/savepoints');
      process.stdout.write(`${JSON.stringify(view)}\n`);
    },
  );

  addApiOptions(savepoint.command('list').description('savepoints, newest first')).action(
    async (options: ApiOptions) => {
      const views = await call<SavepointView[]>(options, 'GET', '/savepoints');
      for (const view of views) {
        const bytes = view.partitions.reduce((sum, p) => sum + p.bytes, 0);
        const offsets = view.partitions.map((p) => `${p.partition}@${p.offset ?? '-'}`).join(',');
        process.stdout.write(`${view.id}\t${view.createdAt}\t${bytes} bytes\t${offsets}\n`);
      }
      if (views.length === 0) process.stdout.write('no savepoints\n');
    },
  );

  addApiOptions(savepoint.command('delete').description('delete a savepoint').argument('<id>')).action(
    async (id: string, options: ApiOptions) => {
      await call(options, 'DELETE', `/savepoints/${encodeURIComponent(id)}`);
      process.stdout.write(`${id}: deleted\n`);
    },
  );

  return savepoint;
}
