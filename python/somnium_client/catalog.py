"""The scenario catalog, read from the server (`somnium serve`).

The server reports which scenarios and variants exist, with each variant's
control rate and render fps, through dm_env_rpc's standard properties extension
(``dm_env_rpc.v1.extensions.properties``), so this package keeps no copy:

- ``catalog``: every scenario as JSON (id, success rule, and per variant its
  ``name``, ``control_hz``, ``render_fps``, ``max_episode_steps``, ``arena_size``);
- ``scenarios``: the ids;
- ``scenarios.<id>.<variant>.render_fps`` and ``.control_hz``: one variant's rates.

Gymnasium ids (``somnium/<scenario>``) are registered by `register`, which asks a
server for the list: the list lives on the server, so it is not known at import.
"""

import json
from typing import Any, Dict, List, Optional

import grpc
import gymnasium
from dm_env_rpc.v1 import connection as dm_connection
from dm_env_rpc.v1.extensions import properties

_MAX_MESSAGE = 64 << 20


def open_connection(address: str, token: Optional[str] = None, connect_timeout: float = 10.0):
    """A ``(channel, connection)`` to the server at `address`; raises `ConnectionError` when none answers."""
    channel = grpc.insecure_channel(address, options=[
        ("grpc.max_receive_message_length", _MAX_MESSAGE), ("grpc.max_send_message_length", _MAX_MESSAGE)])
    try:
        grpc.channel_ready_future(channel).result(timeout=connect_timeout)
    except grpc.FutureTimeoutError:
        channel.close()
        raise ConnectionError(f"no somnium server at {address} after {connect_timeout} s") from None
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    return channel, dm_connection.Connection(channel, metadata)


def read_property(connection, key: str):
    """The value of the server property `key` (``KeyError`` when the server has none)."""
    return properties.PropertiesExtension(connection)[key]


def catalog(address: str, token: Optional[str] = None, connect_timeout: float = 10.0) -> List[Dict[str, Any]]:
    """Every scenario the server at `address` offers, with its variants and their rates."""
    channel, connection = open_connection(address, token, connect_timeout)
    try:
        return json.loads(str(read_property(connection, "catalog")))
    finally:
        connection.close()
        channel.close()


def scenario_ids(address: str, token: Optional[str] = None, connect_timeout: float = 10.0) -> List[str]:
    """The scenario ids the server at `address` offers, e.g. ``["bounce-v0", "push-v0", ...]``."""
    return [s["id"] for s in catalog(address, token, connect_timeout)]


def register(address: str, token: Optional[str] = None, connect_timeout: float = 10.0) -> List[str]:
    """Registers ``somnium/<scenario>`` with Gymnasium for every scenario the server
    offers, bound to `address` (and `token`), so ``gymnasium.make("somnium/push-v0")``
    works. Ids already registered are kept. Returns the Gymnasium ids."""
    ids = []
    for scenario in scenario_ids(address, token, connect_timeout):
        env_id = f"somnium/{scenario}"
        if env_id not in gymnasium.registry:
            kwargs = {"scenario": scenario, "address": address}
            if token:
                kwargs["token"] = token
            gymnasium.register(env_id, entry_point="somnium_client.env:SomniumEnv", kwargs=kwargs)
        ids.append(env_id)
    return ids
