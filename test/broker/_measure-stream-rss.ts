/**
 * Measurement, not a test (files starting with `_` are not run by ava): the server's RSS while raw
 * TCP sockets announce a huge CONNECT and stream data into the embedded broker (issue 10).
 *
 *   npx tsc -p . && node dist/test/broker/_measure-stream-rss.js [MB per socket = 250] [sockets = 1] [tcp|ws]
 *
 * Over WebSocket the data goes as 1 MB binary messages (the first one starts with the header).
 *
 * The broker runs in a child process (this file again, with `--serve`) so its RSS is its own.
 * Prints the child's RSS before, the peak while streaming, and after the sockets ended.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Harness } from './_helpers.js';

const MB = 1024 * 1024;

async function serve(): Promise<void> {
  const h = await Harness.open('smxt-measure-rss');
  const broker = await h.startBroker();
  process.send!({ port: broker.tcpPort, wsPort: broker.wsPort });
  process.on('message', async () => {
    await h.close();
    process.exit(0);
  });
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** CONNECT fixed header announcing `length` bytes (varint, at most 268 435 455). */
function connectHeader(length: number): Buffer {
  const bytes = [0x10];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return Buffer.from(bytes);
}

/** Streams `total` bytes after the header; resolves with how many the server took before it closed. */
function stream(port: number, total: number): Promise<number> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const chunk = Buffer.alloc(MB, 0x61);
    let sent = 0;
    const finish = () => resolve(sent);
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('connect', () => {
      socket.write(connectHeader(total));
      const pump = () => {
        while (sent < total && !socket.destroyed) {
          sent += chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
        // Keep the socket open a moment so the server still holds what it buffered.
        setTimeout(() => socket.end(), 1000);
      };
      pump();
    });
  });
}

/** The same over MQTT-over-WebSocket: 1 MB messages, each sent when the last one left. */
function streamWs(port: number, total: number): Promise<number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt');
    const chunk = Buffer.alloc(MB, 0x61);
    let sent = 0;
    let done = false;
    const finish = () => {
      if (!done) resolve(sent);
      done = true;
    };
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('open', () => {
      const next = (): void => {
        if (done || socket.readyState !== WebSocket.OPEN) return;
        if (sent >= total) return void setTimeout(() => socket.close(), 1000);
        const data = sent === 0 ? Buffer.concat([connectHeader(total), chunk]) : chunk;
        sent += chunk.length;
        socket.send(data, (error) => (error ? finish() : next()));
      };
      next();
    });
  });
}

async function measure(): Promise<void> {
  const mbPerSocket = Number(process.argv[2] ?? 250);
  const sockets = Number(process.argv[3] ?? 1);
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: 'inherit' });
  const mode = process.argv[4] === 'ws' ? 'ws' : 'tcp';
  const { port, wsPort } = await new Promise<{ port: number; wsPort: number }>((resolve) =>
    child.once('message', resolve as (m: unknown) => void),
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = rssMb(child.pid!);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(child.pid!))), 50);
  const started = Date.now();
  const taken = await Promise.all(
    Array.from({ length: sockets }, () =>
      mode === 'ws' ? streamWs(wsPort, mbPerSocket * MB) : stream(port, mbPerSocket * MB),
    ),
  );
  const seconds = (Date.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 2000));
  clearInterval(sampler);
  const after = rssMb(child.pid!);
  console.log(
    JSON.stringify({
      mode,
      sockets,
      announcedMbPerSocket: mbPerSocket,
      writtenMbPerSocket: taken.map((bytes) => Math.round(bytes / MB)),
      seconds,
      rssMb: { before: Math.round(before), peak: Math.round(peak), after: Math.round(after) },
    }),
  );
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));
}

if (process.argv.includes('--serve')) await serve();
else await measure();
