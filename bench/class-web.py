#!/usr/bin/env python3
"""Summary: bench/class-web's measuring side (run by it, not alone): the class's terminals
through chatlab-web, their keystroke echo against `docker exec -it`'s, the server's memory.

Usage: bench/class-web.py --dir CLASS_DIR --port PORT --web-pid PID [--agent-pid PID] --keys K --sample S --out FILE

Python 3's standard library only: the WebSocket client (RFC 6455, client side: masked
frames, no extension) and its TLS are written here on asyncio and ssl; the server's
certificate is pinned (its SHA-256 against CLASS_DIR/web/cert.pem, verification otherwise
off: it is self-signed). What it does, in order:
 1. every student of CLASS_DIR/links.csv logs in (GET /s/SECRET: 303 and the cookie);
 2. the web server's memory, idle (no terminal yet);
 3. three terminals per student (server, client, client2), 6 opening at a time; each, at its
    prompt, gets `while sleep 1; do date; done &` typed in: every terminal receives a line a
    second for the rest of the run (the idle load), and its shell stays at its prompt;
 4. after 5 s of that, the memory with every terminal open; then the echo in S of them
    (round-robin over students and hosts), all S at once: K times, 'q' typed at the prompt,
    timed until a frame of output holding 'q' arrives, then a backspace (untimed) so the line
    stays empty; a keystroke every 20 ms (or at its echo, if later);
 5. the peer, the same on the same S hosts: `docker exec -it -e TERM=xterm -w /work CONTAINER
    bash -l` in a pty of this process, its own date loop, the same keystrokes;
 6. the memory again (all still open), the CPU the server used meanwhile;
 7. everything closed; 5 s later the server's memory, the shells left in the sampled hosts
    (docker top), and one terminal opened again and echoed (the server still answers).
Writes FILE: one `key value` line per figure (bench/class-web prints the table). Progress on
stderr.
"""

import argparse
import asyncio
import base64
import hashlib
import math
import os
import pty
import re
import signal
import ssl
import statistics
import struct
import subprocess
import sys
import termios
import fcntl
import time

HOSTS = ("server", "client", "client2")
LOOP = b"while sleep 1; do date; done &\r"
KEY, ERASE = b"q", b"\x7f"  # 'q': in no line of date (C locale) nor in the prompt
SPACING = 0.020
ECHO_TIMEOUT = 5.0
OPEN_TIMEOUT = 30.0
OPEN_AT_ONCE = 6


def say(msg):
    print(f"lab: {msg}", file=sys.stderr, flush=True)


# --- Figures of the processes -------------------------------------------------------------


def proc_status(pid):
    """VmRSS and VmHWM of PID in MiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) / 1024
    return out


def proc_cpu(pid):
    """User + system CPU seconds of PID (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def docker_mem(name):
    """docker stats' memory of container NAME in MiB (the cgroup's: RSS and some cache)."""
    try:
        out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", name],
                             capture_output=True, text=True, timeout=30).stdout
        m = re.match(r"\s*([0-9.]+)\s*([KMG]i?B|B)", out)
        if not m:
            return float("nan")
        f = {"B": 1 / 1048576, "KiB": 1 / 1024, "kB": 1 / 1024, "MiB": 1, "MB": 1, "GiB": 1024, "GB": 1024}
        return float(m.group(1)) * f.get(m.group(2), 1)
    except (OSError, subprocess.SubprocessError):
        return float("nan")


def shells_in(cid):
    """(bash, sleep) processes in container CID, by docker top."""
    out = subprocess.run(["docker", "top", cid, "-o", "comm"], capture_output=True, text=True).stdout
    names = [line.strip() for line in out.splitlines()[1:]]
    return names.count("bash"), names.count("sleep")


# --- A terminal: output seen, a waiter for the echo ---------------------------------------


class Term:
    def __init__(self, label):
        self.label = label
        self.buf = bytearray()  # output since the last mark (for prompts)
        self.bytes = 0
        self.lines = 0
        self.waiter = None  # (future) resolved with the time a KEY arrives
        self.closed = asyncio.get_running_loop().create_future()
        self.ended = None

    def on_data(self, data, when):
        self.bytes += len(data)
        self.lines += data.count(b"\n")
        self.buf += data
        if len(self.buf) > 65536:
            del self.buf[:-4096]
        if self.waiter is not None and not self.waiter.done() and KEY in data:
            self.waiter.set_result(when)

    def on_end(self, why):
        self.ended = why
        if not self.closed.done():
            self.closed.set_result(why)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(EOFError(why))

    async def prompt(self, timeout=OPEN_TIMEOUT):
        """Until the output ends with a root prompt ('# ')."""
        deadline = time.monotonic() + timeout
        while not re.search(rb"@[^\r\n]*:[^\r\n]*# ", self.buf):
            if self.ended:
                raise EOFError(self.ended)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no prompt in {timeout:.0f} s; last output {bytes(self.buf[-80:])!r}")
            await asyncio.sleep(0.02)

    async def echo_series(self, count):
        """COUNT keystrokes, each timed until its echo; (latencies in ms, timeouts)."""
        loop = asyncio.get_running_loop()
        times, lost = [], 0
        nxt = time.perf_counter()
        for _ in range(count):
            delay = nxt - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            self.waiter = loop.create_future()
            t0 = time.perf_counter()
            nxt = t0 + SPACING
            await self.send(KEY)
            try:
                t1 = await asyncio.wait_for(self.waiter, ECHO_TIMEOUT)
                times.append((t1 - t0) * 1000)
            except asyncio.TimeoutError:
                lost += 1
            self.waiter = None
            await asyncio.sleep(SPACING / 2)
            await self.send(ERASE)
        return times, lost


class WsTerm(Term):
    """A terminal of the web server: a WebSocket over TLS."""

    def __init__(self, label, reader, writer):
        super().__init__(label)
        self.reader, self.writer = reader, writer
        self.task = asyncio.create_task(self.read_loop())

    async def send_frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        body = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.writer.write(head + mask + body)
        await self.writer.drain()

    async def send(self, data):
        await self.send_frame(2, data)

    async def read_loop(self):
        r = self.reader
        message, kind = bytearray(), None
        try:
            while True:
                b0, b1 = await r.readexactly(2)
                n = b1 & 0x7F
                if n == 126:
                    n = struct.unpack("!H", await r.readexactly(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", await r.readexactly(8))[0]
                mask = await r.readexactly(4) if b1 & 0x80 else None
                payload = await r.readexactly(n)
                when = time.perf_counter()
                if mask:
                    payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
                op = b0 & 0x0F
                if op == 8:
                    self.on_end("closed by the server")
                    return
                if op == 9:
                    await self.send_frame(10, payload)
                    continue
                if op == 10:
                    continue
                if op in (1, 2):
                    kind, message = op, bytearray()
                message += payload
                if not b0 & 0x80:
                    continue
                if kind == 2 and message[:1] == b"\x01":
                    self.on_data(bytes(message[1:]), when)
                elif kind == 2:
                    pass  # another stream (2: stderr; a tty has none)
                elif message.startswith(b'{"keyboard"'):
                    pass  # who holds the keyboard (the first frame of every terminal)
                else:
                    self.on_end(f"the server said {message.decode(errors='replace')}")
                    return
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError) as e:
            self.on_end(f"connection lost: {e!r}")

    async def close(self):
        try:
            await asyncio.wait_for(self.send_frame(8, struct.pack("!H", 1000)), 2)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), 2)
        except asyncio.TimeoutError:
            pass
        self.task.cancel()
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass


class PtyTerm(Term):
    """The peer: `docker exec -it` in a pty of this process."""

    def __init__(self, label, cid):
        super().__init__(label)
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.proc = subprocess.Popen(
            ["docker", "exec", "-it", "-e", "TERM=xterm", "-w", "/work", cid, "bash", "-l"],
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True, close_fds=True)
        os.close(slave)
        os.set_blocking(master, False)
        self.fd = master
        asyncio.get_running_loop().add_reader(master, self.readable)

    def readable(self):
        when = time.perf_counter()
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        except OSError as e:
            data, why = b"", repr(e)
        else:
            why = "end of output"
        if data:
            self.on_data(data, when)
        else:
            asyncio.get_running_loop().remove_reader(self.fd)
            self.on_end(why)

    async def send(self, data):
        os.write(self.fd, data)

    async def close(self):
        loop = asyncio.get_running_loop()
        loop.remove_reader(self.fd)
        os.close(self.fd)
        for sig, wait in ((None, 3), (signal.SIGTERM, 2), (signal.SIGKILL, 2)):
            if sig is not None:
                self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(loop.run_in_executor(None, self.proc.wait), wait)
                return
            except asyncio.TimeoutError:
                pass


# --- HTTP and the WebSocket's opening -----------------------------------------------------


class Web:
    def __init__(self, port, cert_pem):
        self.port = port
        self.host = f"localhost:{port}"
        self.origin = f"https://{self.host}"
        with open(cert_pem) as f:
            self.pin = hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE

    async def connect(self):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, ssl=self.ctx,
                                                       server_hostname="localhost")
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        if hashlib.sha256(der).hexdigest() != self.pin:
            writer.close()
            raise ssl.SSLError("the server's certificate is not the class's (web/cert.pem)")
        return reader, writer

    async def request(self, path, headers=()):
        """GET PATH: (reader, writer, status, headers, body of an answer that is not 101)."""
        reader, writer = await self.connect()
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}", *headers, "", ""]
        writer.write("\r\n".join(lines).encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        first, *rest = head.decode("latin-1").split("\r\n")
        status = int(first.split()[1])
        hdrs = {}
        for line in rest:
            if ":" in line:
                k, _, v = line.partition(":")
                hdrs.setdefault(k.strip().lower(), v.strip())
        body = b""
        if status != 101:
            n = int(hdrs.get("content-length", "0") or 0)
            body = await reader.readexactly(n) if n else b""
            writer.close()
        return reader, writer, status, hdrs, body

    async def login(self, student, secret):
        _, _, status, hdrs, body = await self.request(f"/s/{secret}")
        if status != 303 or hdrs.get("location") != f"/lab/{student}/":
            raise RuntimeError(f"{student}'s link: {status} {body[:100]!r}")
        cookie = hdrs.get("set-cookie", "").split(";")[0]
        if cookie != f"chatlab_student={secret}":
            raise RuntimeError(f"{student}'s link: no cookie of its secret ({cookie[:40]})")
        return cookie

    async def terminal(self, student, host, cookie):
        key = base64.b64encode(os.urandom(16)).decode()
        reader, writer, status, hdrs, body = await self.request(
            f"/lab/{student}/term/{host}?cols=80&rows=24",
            ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
             "Sec-WebSocket-Version: 13", f"Origin: {self.origin}", f"Cookie: {cookie}"])
        if status != 101:
            raise RuntimeError(f"{status} {body.decode(errors='replace').strip()}")
        want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        if hdrs.get("sec-websocket-accept", "").encode() != want:
            writer.close()
            raise RuntimeError(f"101 without the right Sec-WebSocket-Accept ({hdrs.get('sec-websocket-accept')!r}, not {want.decode()})")
        return WsTerm(f"{student}/{host}", reader, writer)


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def read_links(path):
    out = []
    with open(path) as f:
        next(f)
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            student, url = line.split(",", 1)[0], line.rsplit(",", 1)[1]
            out.append((student, url.rsplit("/s/", 1)[1]))
    return out


async def main(args):
    res = {}
    web = Web(args.port, os.path.join(args.dir, "web", "cert.pem"))
    students = read_links(os.path.join(args.dir, "links.csv"))
    terms, peers = [], []
    try:
        # 1. Log in.
        cookies = {}
        for student, secret in students:
            cookies[student] = await web.login(student, secret)
        say(f"{len(cookies)} students logged in (GET /s/SECRET: 303 and the cookie)")

        # 2. Idle.
        await asyncio.sleep(2)
        m = proc_status(args.web_pid)
        res["mem_idle_rss"], res["mem_idle_docker"] = m["VmRSS"], docker_mem("chatlab-class-web")

        # 3. Open every terminal, a class's start: 6 at a time (two students' pages).
        wanted = [(s, h) for s, _ in students for h in HOSTS]
        gate = asyncio.Semaphore(OPEN_AT_ONCE)
        opened, refused, open_ms = {}, [], []

        async def open_one(student, host):
            async with gate:
                t0 = time.perf_counter()
                try:
                    t = await asyncio.wait_for(web.terminal(student, host, cookies[student]), OPEN_TIMEOUT)
                    terms.append(t)
                    await t.prompt()
                    open_ms.append((time.perf_counter() - t0) * 1000)
                    t.buf.clear()
                    await t.send(LOOP)
                    await asyncio.sleep(0.2)
                    await t.prompt(10)
                    opened[(student, host)] = t
                except (RuntimeError, OSError, EOFError, TimeoutError, asyncio.TimeoutError,
                        asyncio.IncompleteReadError, ssl.SSLError) as e:
                    refused.append(f"{student}/{host}: {str(e) or type(e).__name__}")

        t0 = time.perf_counter()
        await asyncio.gather(*(open_one(s, h) for s, h in wanted))
        res["open_s"] = time.perf_counter() - t0
        res["terms_wanted"], res["terms_open"] = len(wanted), len(opened)
        res["open_p50"], res["open_p95"], res["open_max"] = pct(open_ms, 50), pct(open_ms, 95), max(open_ms, default=float("nan"))
        say(f"{len(opened)} of {len(wanted)} terminals open, each with its date loop, in {res['open_s']:.1f} s")
        reasons = {}
        for r in refused:
            why = r.split(": ", 1)[1]
            reasons.setdefault(why, []).append(r.split(":", 1)[0])
        for why, who in reasons.items():
            say(f"refused, {len(who)} terminal(s) ({who[0]}{'…' + who[-1] if len(who) > 1 else ''}): {why}")
        res["refused"] = len(refused)
        res["refused_why"] = "; ".join(f"{len(w)}× {why}" for why, w in reasons.items())
        if not opened:
            raise RuntimeError("no terminal opened")

        # 4. Memory with everything open, under the idle load; then the web's echo.
        cpu0, wall0 = proc_cpu(args.web_pid), time.monotonic()
        acpu0 = proc_cpu(args.agent_pid) if args.agent_pid else 0
        for t in opened.values():
            t.lines = 0
        await asyncio.sleep(5)
        res["load_lines_s"] = sum(t.lines for t in opened.values()) / (time.monotonic() - wall0)
        m = proc_status(args.web_pid)
        res["mem_open_rss"], res["mem_open_docker"] = m["VmRSS"], docker_mem("chatlab-class-web")
        say(f"idle load: {res['load_lines_s']:.0f} lines/s through the server; its memory {m['VmRSS']:.1f} MiB (idle {res['mem_idle_rss']:.1f})")

        # The sample: round-robin over students and hosts, among the terminals open.
        n = len(students)
        size = min(args.sample, len(opened))
        sample = []
        for j in range(size):
            want = (students[j * n // size][0], HOSTS[j % 3])
            if want not in opened or want in sample:
                order = sorted(opened, key=lambda k: (abs(wanted.index(k) - wanted.index(want)), wanted.index(k)))
                want = next(k for k in order if k not in sample)
            sample.append(want)
        res["sample"] = size
        res["sample_hosts"] = " ".join(f"{s}/{h}" for s, h in sample)
        say(f"echo through the web server: {size} terminals × {args.keys} keystrokes ({' '.join(res['sample_hosts'].split()[:4])}…)")
        for k in sample:
            opened[k].buf.clear()
        results = await asyncio.gather(*(opened[k].echo_series(args.keys) for k in sample))
        web_ms = [x for r in results for x in r[0]]
        res["web_lost"] = sum(r[1] for r in results)

        # 5. The peer: docker exec -it, in a pty, on the same hosts (their containers).
        cids = {}
        for k in sample:
            out = subprocess.run(["docker", "ps", "-q", "--filter", f"label=chatlab.class.student={k[0]}",
                                  "--filter", f"label=chatlab.class.host={k[1]}"],
                                 capture_output=True, text=True).stdout.split()
            if not out:
                raise RuntimeError(f"no container for {k[0]}/{k[1]}")
            cids[k] = out[0]
        for k in sample:
            p = PtyTerm(f"docker exec {k[0]}/{k[1]}", cids[k])
            peers.append(p)
        for p in peers:
            await p.prompt()
            p.buf.clear()
            await p.send(LOOP)
            await asyncio.sleep(0.2)
            await p.prompt(10)
        say(f"echo through docker exec -it: the same {size} hosts × {args.keys} keystrokes")
        await asyncio.sleep(1)
        results = await asyncio.gather(*(p.echo_series(args.keys) for p in peers))
        exec_ms = [x for r in results for x in r[0]]
        res["exec_lost"] = sum(r[1] for r in results)
        for name, ms in (("web", web_ms), ("exec", exec_ms)):
            res[f"{name}_n"] = len(ms)
            res[f"{name}_p50"], res[f"{name}_p95"], res[f"{name}_max"] = pct(ms, 50), pct(ms, 95), max(ms, default=float("nan"))
            res[f"{name}_mean"] = statistics.fmean(ms) if ms else float("nan")

        # 6. Memory and CPU, everything still open.
        m = proc_status(args.web_pid)
        res["mem_open2_rss"], res["mem_hwm"] = m["VmRSS"], m["VmHWM"]
        res["mem_open2_docker"] = docker_mem("chatlab-class-web")
        res["cpu_pct"] = 100 * (proc_cpu(args.web_pid) - cpu0) / (time.monotonic() - wall0)
        if args.agent_pid:
            res["agent_rss"] = proc_status(args.agent_pid)["VmRSS"]
            res["agent_cpu_pct"] = 100 * (proc_cpu(args.agent_pid) - acpu0) / (time.monotonic() - wall0)
        ended = [t.label + ": " + t.ended for t in opened.values() if t.ended]
        res["ended_early"] = len(ended)
        for e in ended[:3]:
            say(f"a terminal ended during the run: {e}")

        # 7. Close everything; what is left.
        say("closing every terminal")
        await asyncio.gather(*(t.close() for t in terms), *(p.close() for p in peers))
        terms.clear()
        peers.clear()
        await asyncio.sleep(5)
        m = proc_status(args.web_pid)
        res["mem_closed_rss"] = m["VmRSS"]
        bash = sleep = 0
        for k in sample:
            b, s = shells_in(cids[k])
            bash, sleep = bash + b, sleep + s
        res["left_bash"], res["left_sleep"] = bash, sleep
        # Opened twice in each sampled host (web and docker exec): 2×size shells, all closed.
        say(f"5 s after closing: in the {size} sampled hosts {bash} bash and {sleep} sleep processes left "
            f"(each had 2 shells opened and closed, a date loop in each); server memory {m['VmRSS']:.1f} MiB")
        k = sample[0]
        t0 = time.perf_counter()
        try:
            t = await asyncio.wait_for(web.terminal(k[0], k[1], cookies[k[0]]), OPEN_TIMEOUT)
            terms.append(t)
            await t.prompt()
            times, lost = await t.echo_series(10)
            res["reopen"] = f"ok, {(time.perf_counter() - t0) * 1000:.0f} ms, echo p50 {pct(times, 50):.1f} ms" + (f", {lost} lost" if lost else "")
        except (RuntimeError, OSError, EOFError, TimeoutError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
            res["reopen"] = f"FAILED: {e}"
        say(f"a terminal opened again: {res['reopen']}")
    finally:
        await asyncio.gather(*(t.close() for t in terms), *(p.close() for p in peers), return_exceptions=True)
        with open(args.out, "w") as f:
            for k, v in res.items():
                v = f"{v:.3f}" if isinstance(v, float) else str(v).replace("\n", " ")
                f.write(f"{k} {v}\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=8443)
    ap.add_argument("--web-pid", type=int, required=True)
    ap.add_argument("--agent-pid", type=int, default=0)
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--sample", type=int, default=10)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(143)))
    try:
        asyncio.run(main(a))
    except KeyboardInterrupt:
        sys.exit(130)
    except (RuntimeError, OSError) as e:
        print(f"lab: {e}", file=sys.stderr)
        sys.exit(1)
