"""Shared setup: the address of a running `somnium serve`.

`.ci/python_tests.sh` starts the server and sets ``SOMNIUM_SERVER``. Without it,
the tests start ``somnium serve`` themselves (``SOMNIUM_BIN`` or the workspace's
``target/release/somnium``) on a free loopback port and stop it at exit.

A test that takes a ``scenario_id`` argument runs once per scenario the server
reports (the client keeps no list of its own).

``grpc`` is imported only when a test needs the server, so the benchmark-file tests
(numpy only) run where the gRPC client is not installed.
"""

import atexit
import os
import pathlib
import socket
import subprocess
import time

import pytest

_server = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_address() -> str:
    """``host:port`` of the server every test talks to (started once when needed)."""
    if os.environ.get("SOMNIUM_SERVER"):
        return os.environ["SOMNIUM_SERVER"]
    if "address" not in _server:
        import grpc

        root = pathlib.Path(__file__).resolve().parents[2]
        binary = os.environ.get("SOMNIUM_BIN", str(root / "target" / "release" / "somnium"))
        address = f"127.0.0.1:{_free_port()}"
        proc = subprocess.Popen([binary, "serve", "--bind", address], stdout=subprocess.DEVNULL)
        atexit.register(lambda: (proc.terminate(), proc.wait(timeout=30)))
        channel = grpc.insecure_channel(address)
        try:
            grpc.channel_ready_future(channel).result(timeout=30)
        finally:
            channel.close()
        _server["address"] = address
        time.sleep(0.1)
    return _server["address"]


@pytest.fixture(scope="session")
def address() -> str:
    return server_address()


def pytest_generate_tests(metafunc):
    if "scenario_id" in metafunc.fixturenames:
        import somnium_client

        metafunc.parametrize("scenario_id", somnium_client.scenario_ids(server_address()))
