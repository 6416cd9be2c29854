"""Gymnasium envs for somnium worlds served over dm_env_rpc (`somnium serve`).

Importing the package registers ``somnium/<scenario>`` ids with Gymnasium::

    import gymnasium as gym
    import somnium_client
    env = gym.make("somnium/push-v0", address="127.0.0.1:50051")
"""

import gymnasium

from somnium_client.env import SCENARIOS, SomniumActionError, SomniumEnv, SomniumError

__all__ = ["SCENARIOS", "SomniumActionError", "SomniumEnv", "SomniumError", "make"]


def make(scenario: str, **kwargs) -> SomniumEnv:
    """A `SomniumEnv` for `scenario` (e.g. ``"push-v0"``); see `SomniumEnv` for kwargs."""
    return SomniumEnv(scenario, **kwargs)


for _scenario in SCENARIOS:
    _id = f"somnium/{_scenario}"
    if _id not in gymnasium.registry:
        gymnasium.register(_id, entry_point="somnium_client.env:SomniumEnv", kwargs={"scenario": _scenario})
