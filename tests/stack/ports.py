#!/usr/bin/env python3
"""Free TCP ports on 127.0.0.1 for a throwaway stack or test cluster.
Standard library only.

    python3 tests/stack/ports.py stack N   "NGINX BASE PG": nginx's port, the
                                           replicas' base (replica i listens on
                                           BASE+i, 1 <= i <= N) and PostgreSQL's
    python3 tests/stack/ports.py one       one port the kernel picks

`stack` looks below the ephemeral range (32768+), so that an outgoing
connection cannot take one of its ports between this check and the bind;
scripts/lib/net.sh's stack_free_ports reads its answer.
"""

import random
import socket
import sys

# The block stays below the kernel's default ephemeral range (32768-60999).
LOW, HIGH = 20000, 32000
ATTEMPTS = 1000


class NoFreePorts(Exception):
    pass


def is_free(port, host="127.0.0.1"):
    """Whether a listener could bind host:port right now."""
    s = socket.socket()
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def stack_ports(replicas, rng=random, free=is_free):
    """(nginx, base, pg) for a stack of `replicas`: N + 3 consecutive free
    ports, nginx first, then BASE (kept free too, so BASE+0 is never someone
    else's), BASE+1..BASE+N, PostgreSQL last."""
    if replicas < 1:
        raise ValueError(f"replicas must be at least 1, got {replicas}")
    count = replicas + 3
    for _ in range(ATTEMPTS):
        first = rng.randrange(LOW, HIGH - count)
        block = range(first, first + count)
        if all(free(p) for p in block):
            return block[0], block[1], block[-1]
    raise NoFreePorts(f"no {count} consecutive free ports in {LOW}..{HIGH}")


def any_port(host="127.0.0.1"):
    """A port the kernel reports free (from the ephemeral range)."""
    s = socket.socket()
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


USAGE = "usage: ports.py stack REPLICAS | ports.py one"


def main(argv):
    if len(argv) == 3 and argv[1] == "stack" and argv[2].isdigit():
        try:
            print(*stack_ports(int(argv[2])))
        except (NoFreePorts, ValueError) as e:
            print(f"ports: {e}", file=sys.stderr)
            return 1
        return 0
    if len(argv) == 2 and argv[1] == "one":
        print(any_port())
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
