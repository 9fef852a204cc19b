// What the Node suites (tests/browser, tests/protocol) share: where the binaries are, free
// ports, TOML and CSV writing, child processes whose output is kept for failure reports, and
// waiting for a server to answer. No dependencies, so any suite can import it.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN_DIR = process.env.MONBAN_BIN_DIR ? resolve(process.env.MONBAN_BIN_DIR) : join(REPO, 'target', 'debug');
export const STARTUP_TIMEOUT_MS = 30_000;

/** The path of a built binary; `build` is the cargo command that makes it. */
export function binary(name, build) {
  const path = join(BIN_DIR, name);
  if (!existsSync(path)) {
    throw new Error(
      `${path} does not exist. Build it first:\n  ${build}\n` +
      '(or point MONBAN_BIN_DIR at the directory that holds the binaries)',
    );
  }
  return path;
}

/** A port nobody listens on right now (listen on port 0, read it, close). */
export async function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/** A TOML basic string (a JSON string is one). */
export function toml(value) {
  return JSON.stringify(value);
}

/** A `monban user import` file. */
export function membersCsv(members) {
  return 'user_id,password,display_name,birthdate,email\n' +
    members.map((m) => [m.userId, m.password, m.displayName, m.birthdate, m.email].join(',')).join('\n') + '\n';
}

/** The environment for a child: ours without MONBAN_* / PORTAL_* settings that would override the test's. */
export function childEnv(extra) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(MONBAN|PORTAL)_/.test(key)));
  return { ...env, NO_COLOR: '1', ...extra };
}

/** A child process whose stdout and stderr are kept for the failure report. */
export class Child {
  constructor(name, command, args, env) {
    this.name = name;
    this.output = '';
    this.exited = null;
    this.process = spawn(command, args, { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk) => { this.output += chunk.toString(); };
    this.process.stdout.on('data', keep);
    this.process.stderr.on('data', keep);
    this.exitPromise = new Promise((ok) => {
      this.process.on('exit', (code, signal) => { this.exited = { code, signal }; ok(); });
      this.process.on('error', (error) => { this.output += `\n[spawn error] ${error}\n`; this.exited = { error }; ok(); });
    });
  }

  async stop() {
    if (this.exited) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => { if (!this.exited) this.process.kill('SIGKILL'); }, 3_000);
    await this.exitPromise;
    clearTimeout(timer);
  }
}

/** Waits until `child` prints a line matching `pattern` (stdout or stderr); returns the match. */
export async function waitForOutput(child, pattern) {
  return new Promise((ok, fail) => {
    const streams = [child.process.stdout, child.process.stderr];
    const finish = (settle, value) => {
      clearTimeout(timer);
      for (const stream of streams) stream.off('data', check);
      settle(value);
    };
    // The Child's own listeners were added first, so `output` is up to date when this runs.
    const check = () => {
      const match = child.output.match(pattern);
      if (match) finish(ok, match);
      else if (child.exited) finish(fail, new Error(`${child.name} exited (${JSON.stringify(child.exited)}) before printing ${pattern}`));
    };
    const timer = setTimeout(
      () => finish(fail, new Error(`${child.name} did not print ${pattern} within ${STARTUP_TIMEOUT_MS / 1000}s`)),
      STARTUP_TIMEOUT_MS,
    );
    for (const stream of streams) stream.on('data', check);
    child.exitPromise.then(check); // settling twice is harmless
    check();
  });
}

/** Waits until `url` answers below 500, or fails early if `child` exits. */
export async function waitForHttp(url, child) {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exited) throw new Error(`${child.name} exited (${JSON.stringify(child.exited)}) before ${url} answered`);
    try {
      const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(2_000) });
      if (response.status < 500) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = String(error.cause?.code ?? error.message);
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`${url} did not answer within ${STARTUP_TIMEOUT_MS / 1000}s (last: ${last})`);
}
