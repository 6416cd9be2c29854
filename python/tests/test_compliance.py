"""The dm_env_rpc compliance suite (shipped in the `dm-env-rpc` package),
pointed at somnium worlds: a continuous one (push-v0) and a discrete one (cartpole-v0)."""

import grpc
import numpy as np
from dm_env_rpc.v1 import connection as dm_connection
from dm_env_rpc.v1 import dm_env_rpc_pb2 as pb
from dm_env_rpc.v1 import tensor_utils
from dm_env_rpc.v1.compliance import create_destroy_world, join_leave_world, reset, reset_world, step

from conftest import server_address


def _pack(value, dtype=None):
    return tensor_utils.pack_tensor(value, dtype=dtype)


class _Connected:
    """Opens a dm_env_rpc connection per test; optionally creates a world."""

    scenario = "push-v0"
    create = True

    def setUp(self):
        super().setUp()
        self._channel = grpc.insecure_channel(server_address())
        self._connection = dm_connection.Connection(self._channel)
        self._world = None
        if self.create:
            settings = {"scenario": _pack(self.scenario), "width": _pack(32), "height": _pack(32)}
            self._world = self._connection.send(pb.CreateWorldRequest(settings=settings)).world_name

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            try:
                self._connection.send(pb.LeaveWorldRequest())
                if self._world is not None:
                    self._connection.send(pb.DestroyWorldRequest(world_name=self._world))
            finally:
                self._connection.close()
                self._channel.close()

    @property
    def connection(self):
        return self._connection

    @property
    def world_name(self):
        return self._world


class CreateDestroyWorldTest(_Connected, create_destroy_world.CreateDestroyWorld):
    create = False

    @property
    def required_world_settings(self):
        return {"scenario": _pack("push-v0")}

    @property
    def invalid_world_settings(self):
        return {
            "seed": _pack("not a number"),
            "backend": _pack("warp-drive"),
            "width": _pack(0),
            "variant": _pack("no-such-variant"),
            "gravity": _pack(9.81),
        }

    @property
    def has_multiple_world_support(self):
        return True


class JoinLeaveWorldTest(_Connected, join_leave_world.JoinLeaveWorld):
    @property
    def invalid_join_settings(self):
        return {"agent": _pack(1)}


class ResetTest(_Connected, reset.Reset):
    def join_world(self):
        return self._connection.send(pb.JoinWorldRequest(world_name=self._world)).specs


class ResetWorldTest(_Connected, reset_world.ResetWorld):
    pass


class StepContinuousTest(_Connected, step.Step):
    def setUp(self):
        super().setUp()
        self._specs = self._connection.send(pb.JoinWorldRequest(world_name=self._world)).specs

    @property
    def specs(self):
        return self._specs


class StepDiscreteTest(StepContinuousTest):
    scenario = "cartpole-v0"


def test_specs_carry_per_element_bounds():
    with grpc.insecure_channel(server_address()) as channel:
        conn = dm_connection.Connection(channel)
        world = conn.send(pb.CreateWorldRequest(settings={"scenario": _pack("push-v0")})).world_name
        specs = conn.send(pb.JoinWorldRequest(world_name=world)).specs
        names = sorted(s.name for s in specs.observations.values())
        assert names == ["discount", "frame", "reward", "state", "terminated", "truncated"]
        (action,) = specs.actions.values()
        assert action.name == "action" and action.dtype == pb.DataType.FLOAT
        assert np.all(np.asarray(action.min.floats.array) <= np.asarray(action.max.floats.array))
        conn.send(pb.LeaveWorldRequest())
        conn.send(pb.DestroyWorldRequest(world_name=world))
        conn.close()
