#!/usr/bin/env python3
"""The kernel's floor for a fan-out on this machine: the time to write one small SSE-sized message to
each of N loopback TCP connections, while another process reads them the way the relay benchmark's
clients do: polling epoll every --poll-us microseconds when idle (the default, 1000), or asleep in
epoll_wait (--poll-us 0).

On loopback the sender's write(2) also runs the receiver's TCP input (and, with a reader asleep in
epoll_wait, wakes it), so this is what any server pays per stream here, before any code of its own. `relay-bench.sh` runs it right
before the relay benchmark and hands the figure to it (RELAY_BENCH_KERNEL_FLOOR_US), so that the
relay's fan-out per stream is reported beside the floor measured in the same run.

    loopback_floor.py [--connections 5000] [--bytes 512] [--rounds 5] [--poll-us 1000]

Prints one line, the median microseconds per write, and a Markdown table on stderr.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import statistics
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--bytes", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--poll-us", type=int, default=1000)
    args = parser.parse_args()

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    clients, servers = [], []
    for _ in range(args.connections):
        client = socket.socket()
        client.connect(listener.getsockname())
        server, _ = listener.accept()
        server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        clients.append(client)
        servers.append(server)

    reader = os.fork()
    if reader == 0:
        # The reader: every connection registered in one epoll, read as it becomes readable.
        for server in servers:
            server.close()
        poller = select.epoll()
        by_fd = {}
        for client in clients:
            client.setblocking(False)
            poller.register(client.fileno(), select.EPOLLIN)
            by_fd[client.fileno()] = client
        expected = args.rounds * args.connections
        received = 0
        deadline = time.monotonic() + 120
        while received < expected and time.monotonic() < deadline:
            ready = poller.poll(0 if args.poll_us > 0 else 1.0, 256)
            if not ready and args.poll_us > 0:
                time.sleep(args.poll_us / 1e6)
            for fd, _ in ready:
                try:
                    if by_fd[fd].recv(65536):
                        received += 1
                except BlockingIOError:
                    pass
        os._exit(0)

    for client in clients:
        client.close()
    message = b"x" * args.bytes
    time.sleep(0.5)
    per_write = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        for server in servers:
            server.send(message)
        per_write.append((time.perf_counter() - started) / args.connections * 1e6)
        time.sleep(0.5)  # the reader drains; the next round starts with it idle again
    os.waitpid(reader, 0)
    median = statistics.median(per_write)
    print(f"| connections | bytes | µs per write (median of {args.rounds}) | min | max |", file=sys.stderr)
    print("|---:|---:|---:|---:|---:|", file=sys.stderr)
    print(f"| {args.connections} | {args.bytes} | {median:.2f} | {min(per_write):.2f} | {max(per_write):.2f} |", file=sys.stderr)
    print(f"{median:.2f}")


if __name__ == "__main__":
    main()
