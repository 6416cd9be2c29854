"""Faults against a private `somnium serve --max-worlds 1 --token ...`: the
token is checked, and a client killed mid-episode frees its world (else the
one-world limit would refuse the next client)."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import grpc
import pytest

from conftest import _free_port
from somnium_client import SomniumEnv, SomniumError

TOKEN = "test-token"


@pytest.fixture(scope="module")
def private_server():
    root = pathlib.Path(__file__).resolve().parents[2]
    binary = os.environ.get("SOMNIUM_BIN", str(root / "target" / "release" / "somnium"))
    if not os.path.exists(binary):
        pytest.skip(f"no somnium binary at {binary} (set SOMNIUM_BIN)")
    address = f"127.0.0.1:{_free_port()}"
    proc = subprocess.Popen([binary, "serve", "--bind", address, "--max-worlds", "1", "--token", TOKEN],
                            stdout=subprocess.DEVNULL)
    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=30)
    finally:
        channel.close()
    yield address
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, "the server did not shut down cleanly"


def test_the_token_is_required(private_server):
    with pytest.raises(SomniumError) as err:
        SomniumEnv("push-v0", private_server, width=16, height=16)
    assert err.value.code == "UNAUTHENTICATED"
    with pytest.raises(SomniumError) as err:
        SomniumEnv("push-v0", private_server, token="wrong", width=16, height=16)
    assert err.value.code == "UNAUTHENTICATED"
    env = SomniumEnv("push-v0", private_server, token=TOKEN, width=16, height=16)
    env.reset(seed=0)
    env.close()


CHILD = """
import sys, time
from somnium_client import SomniumEnv
env = SomniumEnv("push-v0", sys.argv[1], token=sys.argv[2], width=16, height=16)
env.reset(seed=0)
env.step(env.action_space.sample())
print("stepping", flush=True)
while True:
    env.step(env.action_space.sample())
"""


def test_a_killed_client_frees_its_world(private_server):
    child = subprocess.Popen([sys.executable, "-c", CHILD, private_server, TOKEN], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == b"stepping"
        with pytest.raises(SomniumError) as err:
            SomniumEnv("push-v0", private_server, token=TOKEN, width=16, height=16)
        assert err.value.code == "RESOURCE_EXHAUSTED"
    finally:
        child.kill()
        child.wait(timeout=30)
    env = None
    for _ in range(100):  # the server notices the dead connection within moments
        try:
            env = SomniumEnv("push-v0", private_server, token=TOKEN, width=16, height=16)
            break
        except SomniumError as e:
            assert e.code == "RESOURCE_EXHAUSTED"
            time.sleep(0.1)
    assert env is not None, "the killed client's world was never freed"
    env.reset(seed=1)
    env.step(env.action_space.sample())
    env.close()
