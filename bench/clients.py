#!/usr/bin/env python3
"""bench/clients.py - the connection-shaped phases of bench/run.

  clients.py idle PORT N HOLD READYFILE
      opens N TLS connections to 127.0.0.1:PORT, sends one request on
      each (GET /notes/1 without credentials: a 401 that needs no
      database) and reads its answer, so every connection is an idle
      keep-alive connection; then writes "open OPENED FAILED" to
      READYFILE and holds them for HOLD seconds (or until it is killed)
      before closing them.

  clients.py pipeline PORT N
      one TLS connection sends N authenticated GET /notes/{id} requests
      (BENCH_TOKEN) at once and reads the N answers; prints
      "N_OK SECONDS".

Only the standard library; everything is on loopback, certificates are not
verified (the benchmark's own self-signed one).
"""
import asyncio
import os
import random
import resource
import ssl
import sys
import time


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def read_response(reader):
    """Reads one response; returns its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def idle_one(port, ctx, sem, conns):
    async with sem:
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=ctx)
            writer.write(b"GET /notes/1 HTTP/1.1\r\nHost: bench\r\n\r\n")
            await writer.drain()
            await read_response(reader)
            conns.append(writer)
            return True
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            return False


async def idle(port, n, hold, readyfile):
    ctx = tls_context()
    sem = asyncio.Semaphore(64)
    conns = []
    results = await asyncio.gather(
        *(idle_one(port, ctx, sem, conns) for _ in range(n)))
    opened = sum(results)
    with open(readyfile + ".tmp", "w") as f:
        f.write("open %d %d\n" % (opened, n - opened))
    os.rename(readyfile + ".tmp", readyfile)
    await asyncio.sleep(hold)
    for w in conns:
        w.close()
    os._exit(0)


async def pipeline(port, n):
    token = os.environ.get("BENCH_TOKEN", "")
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=tls_context())
    req = []
    for _ in range(n):
        req.append(("GET /notes/%d HTTP/1.1\r\nHost: bench\r\n"
                    "Authorization: Bearer %s\r\n\r\n" %
                    (random.randint(1, 100000), token)).encode())
    async def read_all():
        ok = 0
        for _ in range(n):
            if await read_response(reader) == 200:
                ok += 1
        return ok

    start = time.monotonic()
    answers = asyncio.ensure_future(read_all())
    writer.write(b"".join(req))
    await writer.drain()
    ok = await answers
    print("%d %.3f" % (ok, time.monotonic() - start))
    writer.close()


def raise_nofile(want):
    """Descriptors for `want` connections: the hard limit, or more as
    root (CAP_SYS_RESOURCE)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return
        except (ValueError, OSError):
            pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    raise_nofile(int(sys.argv[3]) + 256 if mode == "idle" else 0)
    if mode == "idle":
        asyncio.run(idle(port, int(sys.argv[3]), float(sys.argv[4]),
                         sys.argv[5]))
    elif mode == "pipeline":
        asyncio.run(pipeline(port, int(sys.argv[3])))
    else:
        sys.exit("usage: clients.py idle|pipeline PORT ...")


if __name__ == "__main__":
    main()
