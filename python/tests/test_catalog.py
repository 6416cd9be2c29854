"""The scenario catalog comes from the server: the list of scenarios and
variants, each variant's render fps (its control rate), and the Gymnasium ids
`somnium_client.register` makes from them."""

import gymnasium as gym
import pytest

import somnium_client
from somnium_client import SomniumEnv


def test_the_server_lists_every_scenario_with_its_variants(address):
    cat = {s["id"]: s for s in somnium_client.catalog(address)}
    assert {"bounce-v0", "push-v0", "cartpole-v0", "reach-v0", "occlusion-v0"} <= set(cat)
    assert somnium_client.scenario_ids(address) == list(cat)
    push = {v["name"]: v for v in cat["push-v0"]["variants"]}
    assert {"id", "ood", "coarse", "large"} <= set(push)
    assert push["coarse"]["render_fps"] == 5.0 and push["id"]["render_fps"] == 15.0
    assert cat["push-v0"]["success"] == "terminated"
    assert cat["cartpole-v0"]["success"] == "time_limit"
    for scenario in cat.values():
        for variant in scenario["variants"]:
            assert variant["render_fps"] == variant["control_hz"]


@pytest.mark.parametrize("scenario, variant, fps", [
    ("push-v0", "id", 15.0), ("push-v0", "coarse", 5.0), ("cartpole-v0", "coarse", 12.5)])
def test_render_fps_is_the_variants_control_rate(address, scenario, variant, fps):
    env = SomniumEnv(scenario, address, variant=variant, width=16, height=16)
    try:
        assert env.metadata["render_fps"] == fps
        assert SomniumEnv.metadata["render_fps"] is None
    finally:
        env.close()


def test_register_binds_the_servers_scenarios_to_gymnasium_ids(address):
    ids = somnium_client.register(address)
    assert "somnium/push-v0" in ids and "somnium/cartpole-v0" in ids
    env = gym.make("somnium/push-v0", variant="coarse", width=16, height=16)
    try:
        obs, _ = env.reset(seed=0)
        assert obs["frame"].shape == (16, 16, 3)
        assert env.metadata["render_fps"] == 5.0
    finally:
        env.close()
