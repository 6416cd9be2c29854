"""Gymnasium envs for somnium worlds served over dm_env_rpc (`somnium serve`).

The server says which scenarios exist. `register` asks it and registers a
``somnium/<scenario>`` Gymnasium id for each, bound to its address::

    import gymnasium as gym
    import somnium_client
    somnium_client.register("127.0.0.1:50051")
    env = gym.make("somnium/push-v0", variant="coarse")
    env.metadata["render_fps"]  # 5.0: the variant's control rate, from the server

`SomniumEnv` (or `make`) needs no registration; `catalog` and `scenario_ids`
read what the server offers.
"""

from somnium_client.catalog import catalog, register, scenario_ids
from somnium_client.env import SomniumActionError, SomniumEnv, SomniumError

__all__ = ["SomniumActionError", "SomniumEnv", "SomniumError", "catalog", "make", "register", "scenario_ids"]


def make(scenario: str, **kwargs) -> SomniumEnv:
    """A `SomniumEnv` for `scenario` (e.g. ``"push-v0"``); see `SomniumEnv` for kwargs."""
    return SomniumEnv(scenario, **kwargs)
