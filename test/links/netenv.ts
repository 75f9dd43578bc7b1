/**
 * A network namespace with a veth pair for the networking tests: the host end stays in this
 * namespace (where programs attach), the peer goes into the test's namespace. Packets are real
 * UDP datagrams sent by Node child processes run in the namespace with `ip netns exec`.
 * Everything is deleted by close(), which tests call in finally blocks.
 */
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import assert from 'node:assert/strict';
import type { Collection } from '../../src/index.js';
import { assertGone, idsOf, linksOfPrograms, loadObject } from './helpers.js';

export interface NetEnv {
  ns: string;
  /** Host end: name, ifindex, address. */
  host: string;
  hostIfindex: number;
  hostAddr: string;
  /** The peer in the namespace. */
  peer: string;
  peerAddr: string;
  /** Runs a command in the namespace. */
  exec(cmd: string[]): string;
  close(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });

/** Creates a namespace and a veth pair with addresses 10.A.B.1 (host) and 10.A.B.2 (peer). */
export function createNetEnv(): NetEnv {
  const tag = `${process.pid % 10000}${Math.floor(Math.random() * 1000)}`;
  const ns = `ebpfts_${tag}`;
  const host = `vh${tag}`.slice(0, 15);
  const peer = `vp${tag}`.slice(0, 15);
  const a = 100 + Math.floor(Math.random() * 100);
  const b = Math.floor(Math.random() * 250);
  const hostAddr = `10.${a}.${b}.1`;
  const peerAddr = `10.${a}.${b}.2`;
  const close = () => {
    try {
      ip('link', 'del', host);
    } catch {
      /* gone with the namespace, or never made */
    }
    try {
      ip('netns', 'del', ns);
    } catch {
      /* never made */
    }
  };
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', ns);
    ip('addr', 'add', `${hostAddr}/30`, 'dev', host);
    ip('link', 'set', host, 'up');
    ip('-n', ns, 'addr', 'add', `${peerAddr}/30`, 'dev', peer);
    ip('-n', ns, 'link', 'set', peer, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  } catch (e) {
    close();
    throw e;
  }
  const hostIfindex = Number(execFileSync('cat', [`/sys/class/net/${host}/ifindex`], { encoding: 'utf8' }).trim());
  return {
    ns,
    host,
    hostIfindex,
    hostAddr,
    peer,
    peerAddr,
    exec: (cmd) => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' }),
    close,
  };
}

/** Sends `n` UDP datagrams `payload` to addr:port from inside the namespace (or here, with ns undefined). */
export function sendUdp(ns: string | undefined, addr: string, port: number, n: number, payload = 'x'): void {
  const script =
    `const s=require('dgram').createSocket('udp4');let i=0;` +
    `const next=()=>{if(i++>=${n}){s.close();return;}s.send(${JSON.stringify(payload)},${port},${JSON.stringify(addr)},(e)=>{if(e){console.error(e.message);process.exit(1)}next();});};next();`;
  const cmd = [process.execPath, '-e', script];
  execFileSync(ns ? 'ip' : cmd[0]!, ns ? ['netns', 'exec', ns, ...cmd] : cmd.slice(1), { encoding: 'utf8' });
}

/** A UDP receiver bound here: counts datagrams. */
export async function receiver(addr: string, port: number): Promise<{ count(): number; payloads: string[]; close(): void }> {
  const sock = dgram.createSocket('udp4');
  const payloads: string[] = [];
  sock.on('message', (m) => payloads.push(m.toString()));
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, addr, () => resolve());
  });
  return { count: () => payloads.length, payloads, close: () => sock.close() };
}

/** A UDP receiver inside the namespace (a child process): stop() resolves with its count. */
export async function nsReceiver(ns: string, addr: string, port: number): Promise<{ stop(): Promise<number> }> {
  const script =
    `const s=require('dgram').createSocket('udp4');let n=0;s.on('message',()=>n++);` +
    `s.bind(${port},${JSON.stringify(addr)},()=>console.log('ready'));` +
    `process.stdin.on('data',()=>{console.log('count '+n);process.exit(0)});`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const waitFor = (re: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const m = re.exec(out);
        if (m) resolve(m);
      };
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        check();
      });
      child.once('exit', (code) => reject(new Error(`receiver exited (${code}): ${out}`)));
      check();
    });
  await waitFor(/ready/);
  return {
    stop: async () => {
      const m = waitFor(/count (\d+)/);
      child.stdin.write('stop\n');
      return Number((await m)[1]);
    },
  };
}

/** Lets in-flight packets arrive. */
export const settle = (ms = 100) => new Promise((r) => setTimeout(r, ms));

export function assertCount(actual: number | bigint, expected: number, what: string): void {
  assert.equal(Number(actual), expected, what);
}

/**
 * A test body with testdata/links/net.bpf.o loaded (its `port` set to a random one) and a fresh
 * namespace: both are closed afterwards, and the test fails if any of the object's programs or
 * their links outlive it.
 */
export function withNet(fn: (c: Collection, env: NetEnv, port: number) => Promise<void>): () => Promise<void> {
  return async () => {
    const c = loadObject('net');
    const ids = idsOf(c);
    const port = 20000 + Math.floor(Math.random() * 20000);
    c.variable('port').set(port);
    const env = createNetEnv();
    try {
      await fn(c, env, port);
    } finally {
      c.close();
      env.close();
    }
    assertGone(ids);
    assert.deepEqual(linksOfPrograms(ids), []);
  };
}
