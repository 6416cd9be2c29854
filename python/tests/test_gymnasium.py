"""`somnium_client.SomniumEnv` against a real `somnium serve`: Gymnasium's env
checker, random agents over full episodes, seeding, and clean errors."""

import dm_env
import grpc
import gymnasium as gym
import numpy as np
import pytest
from dm_env_rpc.v1 import connection as dm_connection
from dm_env_rpc.v1 import dm_env_adaptor, tensor_utils
from dm_env_rpc.v1 import dm_env_rpc_pb2 as pb
from gymnasium.utils.env_checker import check_env

import somnium_client
from somnium_client import SomniumActionError, SomniumEnv, SomniumError


@pytest.fixture
def push(address):
    env = SomniumEnv("push-v0", address, width=32, height=32)
    yield env
    env.close()


@pytest.mark.parametrize("scenario", ["push-v0", "cartpole-v0"])
def test_gymnasium_env_checker_passes(address, scenario):
    env = SomniumEnv(scenario, address, width=32, height=32)
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()


def test_a_random_agent_runs_full_episodes(address, scenario_id):
    somnium_client.register(address)
    env = gym.make(f"somnium/{scenario_id}", width=32, height=32)
    try:
        env.action_space.seed(0)
        for episode in range(2):
            obs, _ = env.reset(seed=episode)
            assert obs in env.observation_space
            for _ in range(2000):
                obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
                assert obs in env.observation_space
                assert isinstance(reward, float) and np.isfinite(reward)
                assert info["discount"] == (0.0 if terminated else 1.0)
                if terminated or truncated:
                    break
            assert terminated or truncated, "the episode never ended"
    finally:
        env.close()


def test_the_same_seed_gives_the_same_frames(push):
    first, _ = push.reset(seed=5)
    a = [push.step(np.array([0.5, -0.5], np.float32))[0]["frame"] for _ in range(3)]
    again, _ = push.reset(seed=5)
    b = [push.step(np.array([0.5, -0.5], np.float32))[0]["frame"] for _ in range(3)]
    np.testing.assert_array_equal(first["frame"], again["frame"])
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_bad_actions_raise_clean_exceptions_and_the_env_goes_on(push):
    push.reset(seed=0)
    with pytest.raises(SomniumActionError, match="finite"):
        push.step(np.array([np.nan, 0.0], np.float32))
    with pytest.raises(ValueError, match="shape"):
        push.step(np.zeros(3, np.float32))
    unclipped = SomniumEnv("push-v0", push.address, clip_actions=False, width=16, height=16)
    try:
        unclipped.reset(seed=0)
        with pytest.raises(SomniumActionError) as err:
            unclipped.step(np.array([5.0, 0.0], np.float32))
        assert err.value.code == "OUT_OF_RANGE"
    finally:
        unclipped.close()
    obs, *_ = push.step(np.zeros(2, np.float32))
    assert obs in push.observation_space


def test_discrete_actions_out_of_range_are_rejected(address):
    env = SomniumEnv("cartpole-v0", address, width=16, height=16)
    try:
        env.reset(seed=0)
        with pytest.raises(SomniumActionError) as err:
            env.step(7)
        assert err.value.code == "OUT_OF_RANGE"
        with pytest.raises(SomniumActionError):
            env.step(0.5)
        env.step(1)
    finally:
        env.close()


def test_step_needs_a_reset_before_and_after_an_episode(address):
    env = SomniumEnv("cartpole-v0", address, width=16, height=16)
    try:
        with pytest.raises(SomniumError, match="reset"):
            env.step(0)
        env.reset(seed=1)
        done = False
        for _ in range(1000):
            _, _, terminated, truncated, _ = env.step(0)
            done = terminated or truncated
            if done:
                break
        assert done
        with pytest.raises(SomniumError, match="reset"):
            env.step(0)
    finally:
        env.close()


def test_bad_worlds_are_refused_with_their_reason(address):
    with pytest.raises(SomniumError) as err:
        SomniumEnv("nope-v0", address)
    assert err.value.code == "INVALID_ARGUMENT" and "nope-v0" in err.value.message
    with pytest.raises(SomniumError) as err:
        SomniumEnv("push-v0", address, backend="dream", model="/no/such/model")
    assert err.value.code == "INVALID_ARGUMENT" and "/no/such/model" in err.value.message
    with pytest.raises(SomniumError) as err:
        SomniumEnv("push-v0", address, width=100000)
    assert err.value.code == "INVALID_ARGUMENT" and "width" in err.value.message


def test_the_official_dm_env_adaptor_runs_an_episode(address):
    with grpc.insecure_channel(address) as channel:
        conn = dm_connection.Connection(channel)
        settings = {"scenario": tensor_utils.pack_tensor("cartpole-v0")}
        env, world = dm_env_adaptor.create_and_join_world(conn, settings, {})
        try:
            ts = env.reset()
            assert ts.step_type == dm_env.StepType.FIRST
            for _ in range(1000):
                ts = env.step({"action": np.int64(0)})
                if ts.last():
                    break
            assert ts.last() and ts.discount in (0.0, 1.0)
        finally:
            env.close()
            conn.send(pb.DestroyWorldRequest(world_name=world))
            conn.close()

