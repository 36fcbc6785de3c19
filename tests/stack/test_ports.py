"""Unit tests of ports.py and http_status.py (the stack scripts' port finder
and curl stand-in). Run by scripts/stack-test.sh: python3 -m unittest
discover -s tests/stack"""

import http.server
import os
import random
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import http_status  # noqa: E402
import ports  # noqa: E402


class StackPortsTest(unittest.TestCase):
    def test_a_block_of_consecutive_ports_below_the_ephemeral_range(self):
        for replicas in (1, 2, 5):
            nginx, base, pg = ports.stack_ports(replicas, random.Random(replicas))
            self.assertEqual((base, pg), (nginx + 1, nginx + replicas + 2))
            self.assertGreaterEqual(nginx, ports.LOW)
            self.assertLess(pg, 32768)

    def test_every_port_of_the_block_is_free(self):
        busy = set()
        rng = random.Random(7)
        first = random.Random(7).randrange(ports.LOW, ports.HIGH - 5)
        # The first block drawn has one taken port (a replica's): it is skipped.
        busy.add(first + 3)
        nginx, base, pg = ports.stack_ports(2, rng, free=lambda p: p not in busy)
        self.assertNotEqual(nginx, first)
        self.assertTrue(all(p not in busy for p in range(nginx, pg + 1)))

    def test_a_bound_port_is_not_free(self):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", 0))
            self.assertFalse(ports.is_free(s.getsockname()[1]))
        finally:
            s.close()

    def test_no_free_block_is_an_error_not_a_loop(self):
        with self.assertRaises(ports.NoFreePorts):
            ports.stack_ports(2, random.Random(1), free=lambda p: False)
        with self.assertRaises(ValueError):
            ports.stack_ports(0)

    def test_one_port(self):
        self.assertTrue(ports.is_free(ports.any_port()))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class HttpStatusTest(unittest.TestCase):
    def test_status_of_an_answer_and_of_silence(self):
        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_port}"
            self.assertEqual(http_status.status_of(url + "/healthz", 3), "200")
            self.assertEqual(http_status.status_of(url + "/readyz", 3), "503")
        finally:
            server.shutdown()
            server.server_close()
        # Nothing listens there any more: refused, like curl's 000.
        self.assertEqual(http_status.status_of(url + "/healthz", 3), "000")


if __name__ == "__main__":
    unittest.main()
