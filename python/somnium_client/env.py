"""`SomniumEnv`: a `gymnasium.Env` backed by one somnium world on a dm_env_rpc server.

It speaks the protocol with the official `dm_env_rpc` client: CreateWorld with
the scenario's settings, JoinWorld for the specs, then Reset + Step for
`reset(seed=...)` and Step for `step(action)`. The server reports Gymnasium's
`terminated` and `truncated` flags as observations, so they map one to one, and
the variant's render fps (its control rate) as a property (see `catalog`), which
becomes ``metadata["render_fps"]``.
"""

from typing import Any, Dict, Optional, Tuple

import grpc
import gymnasium
import numpy as np
from dm_env_rpc.v1 import dm_env_rpc_pb2 as pb
from dm_env_rpc.v1 import error as dm_error
from dm_env_rpc.v1 import tensor_spec_utils, tensor_utils
from gymnasium import spaces

from somnium_client.catalog import open_connection, read_property

_ACTION_ERROR_CODES = ("INVALID_ARGUMENT", "OUT_OF_RANGE")


class SomniumError(RuntimeError):
    """The server refused a request; `code` is the gRPC code name (e.g. ``NOT_FOUND``)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SomniumActionError(SomniumError, ValueError):
    """The server rejected an action (wrong shape or dtype, NaN, out of range)."""


_CODE_NAMES = {c.value[0]: c.name for c in grpc.StatusCode}


def _raise_from(err: dm_error.DmEnvRpcError, action: bool = False) -> None:
    code = _CODE_NAMES.get(err.code, str(err.code))
    cls = SomniumActionError if action and code in _ACTION_ERROR_CODES else SomniumError
    raise cls(code, err.message) from None


def _bounds(spec: pb.TensorSpec) -> Tuple[np.ndarray, np.ndarray]:
    b = tensor_spec_utils.bounds(spec)
    shape = tuple(spec.shape)
    return (np.broadcast_to(np.asarray(b.min), shape).copy(), np.broadcast_to(np.asarray(b.max), shape).copy())


class SomniumEnv(gymnasium.Env):
    """One somnium world as a Gymnasium env.

    Args:
        scenario: scenario id, e.g. ``"push-v0"``.
        address: ``host:port`` of ``somnium serve``.
        variant: ``"id"`` or ``"ood"``.
        seed: seed of the first episode when `reset` gets none.
        width, height: frame size in pixels (64 for physics by default; a dream
            has its model's size).
        backend: ``"physics"`` or ``"dream"`` (then `model` names a model in the
            server's ``--models-dir``, e.g. ``"bounce"`` or ``"models/bounce"``).
        token: the server's shared secret, if it has one.
        clip_actions: clip continuous actions into the action box before sending
            (the server rejects out-of-range values; NaN is always rejected).
        render_mode: ``None`` or ``"rgb_array"`` (the last frame).
        connect_timeout: seconds to wait for the server.

    ``metadata["render_fps"]`` is the variant's render fps as the server reports
    it (one frame per control step: 15 for ``push-v0``, 5 for ``push-v0@coarse``).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": None}

    def __init__(self, scenario: str, address: str = "127.0.0.1:50051", *, variant: str = "id", seed: int = 0,
                 width: Optional[int] = None, height: Optional[int] = None, backend: str = "physics",
                 model: Optional[str] = None, token: Optional[str] = None, clip_actions: bool = True,
                 render_mode: Optional[str] = None, connect_timeout: float = 10.0):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.scenario = scenario
        self.address = address
        self.clip_actions = clip_actions
        self._connection = None
        self._world: Optional[str] = None
        self._joined = False
        self._channel = None
        self._channel, self._connection = open_connection(address, token, connect_timeout)
        settings = {"scenario": scenario, "variant": variant, "seed": int(seed), "backend": backend}
        for name, value in (("width", width), ("height", height), ("model", model)):
            if value is not None:
                settings[name] = str(value) if name == "model" else int(value)
        packed = {k: tensor_utils.pack_tensor(v) for k, v in settings.items()}
        try:
            self._world = self._send(pb.CreateWorldRequest(settings=packed)).world_name
            specs = self._send(pb.JoinWorldRequest(world_name=self._world)).specs
            self._joined = True
            self._setup_spaces(specs)
            self.metadata = {**type(self).metadata, "render_fps": self._render_fps(scenario, variant)}
        except BaseException:
            self.close()
            raise
        self._last_frame: Optional[np.ndarray] = None
        self._needs_reset = True

    @property
    def world_name(self) -> Optional[str]:
        """The server's name for this env's world."""
        return self._world

    def _render_fps(self, scenario: str, variant: str) -> Optional[float]:
        """The variant's render fps as the server reports it (``None`` if it has none)."""
        try:
            return float(read_property(self._connection, f"scenarios.{scenario}.{variant}.render_fps"))
        except KeyError:
            return None
        except dm_error.DmEnvRpcError as err:
            _raise_from(err)

    def _send(self, request, action: bool = False):
        if self._connection is None:
            raise SomniumError("CLOSED", "the env is closed")
        try:
            return self._connection.send(request)
        except dm_error.DmEnvRpcError as err:
            _raise_from(err, action)
        except grpc.RpcError as err:
            raise SomniumError(err.code().name, err.details() or "connection failed") from None

    def _setup_spaces(self, specs: pb.ActionObservationSpecs) -> None:
        self._obs_uids: Dict[str, int] = {s.name: uid for uid, s in specs.observations.items()}
        self._obs_specs = {s.name: s for s in specs.observations.values()}
        if len(specs.actions) != 1:
            raise SomniumError("UNIMPLEMENTED", f"expected one action, the world has {len(specs.actions)}")
        (self._action_uid, action_spec), = specs.actions.items()
        self._action_spec = action_spec
        if action_spec.dtype == pb.DataType.INT64 and not action_spec.shape:
            b = tensor_spec_utils.bounds(action_spec)
            self.action_space = spaces.Discrete(int(b.max) - int(b.min) + 1, start=int(b.min))
        else:
            low, high = _bounds(action_spec)
            self.action_space = spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        frame = self._obs_specs["frame"]
        obs = {"frame": spaces.Box(0, 255, shape=tuple(frame.shape), dtype=np.uint8)}
        if "state" in self._obs_specs:
            low, high = _bounds(self._obs_specs["state"])
            obs["state"] = spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        self.observation_space = spaces.Dict(obs)
        self._requested = sorted(self._obs_uids.values())

    def _unpack(self, response: pb.StepResponse) -> Tuple[Dict[str, np.ndarray], Dict[str, Any]]:
        by_name = {name: tensor_utils.unpack_tensor(response.observations[uid])
                   for name, uid in self._obs_uids.items() if uid in response.observations}
        obs = {"frame": np.asarray(by_name["frame"], dtype=np.uint8).reshape(self._obs_specs["frame"].shape)}
        if "state" in by_name:
            obs["state"] = np.asarray(by_name["state"], dtype=np.float32).reshape(self._obs_specs["state"].shape)
        self._last_frame = obs["frame"]
        return obs, by_name

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        """Start an episode; `seed` makes it reproducible (the server's seed sequence continues without one)."""
        super().reset(seed=seed)
        settings = {} if seed is None else {"seed": tensor_utils.pack_tensor(int(seed), dtype=np.int64)}
        self._send(pb.ResetRequest(settings=settings))
        response = self._send(pb.StepRequest(requested_observations=self._requested))
        obs, _ = self._unpack(response)
        self._needs_reset = False
        return obs, {"world": self._world}

    def _pack_action(self, action) -> pb.Tensor:
        if isinstance(self.action_space, spaces.Discrete):
            value = np.asarray(action)
            if value.size != 1 or not np.issubdtype(value.dtype, np.integer):
                raise SomniumActionError("INVALID_ARGUMENT", f"a Discrete action is one integer, got {action!r}")
            return tensor_utils.pack_tensor(np.int64(value.reshape(())), dtype=np.int64)
        value = np.asarray(action, dtype=np.float32)
        if value.shape != self.action_space.shape:
            raise SomniumActionError(
                "INVALID_ARGUMENT", f"action shape {value.shape} is not the action space's {self.action_space.shape}")
        if self.clip_actions:
            value = np.where(np.isnan(value), value, np.clip(value, self.action_space.low, self.action_space.high))
        return tensor_utils.pack_tensor(value.astype(np.float32), dtype=np.float32)

    def step(self, action):
        """Apply `action`; returns ``(obs, reward, terminated, truncated, info)`` with Gymnasium's meaning."""
        if self._needs_reset:
            raise SomniumError("FAILED_PRECONDITION", "call reset() before step() (and after an episode ends)")
        tensor = self._pack_action(action)
        response = self._send(pb.StepRequest(actions={self._action_uid: tensor},
                                             requested_observations=self._requested), action=True)
        obs, raw = self._unpack(response)
        terminated = bool(raw.get("terminated", response.state == pb.EnvironmentStateType.TERMINATED))
        truncated = bool(raw.get("truncated", response.state == pb.EnvironmentStateType.INTERRUPTED))
        if terminated or truncated:
            self._needs_reset = True
        info = {"world": self._world, "discount": float(raw.get("discount", 0.0 if terminated else 1.0))}
        return obs, float(raw.get("reward", 0.0)), terminated, truncated, info

    def render(self):
        """The last frame (``render_mode="rgb_array"``)."""
        if self.render_mode == "rgb_array" and self._last_frame is not None:
            return self._last_frame.copy()
        return None

    def close(self):
        """Leave and destroy the world, then close the connection (safe to call twice)."""
        if self._connection is not None:
            try:
                if self._joined:
                    self._connection.send(pb.LeaveWorldRequest())
                if self._world is not None:
                    self._connection.send(pb.DestroyWorldRequest(world_name=self._world))
            except (dm_error.DmEnvRpcError, grpc.RpcError):
                pass
            finally:
                self._connection.close()
                self._connection = None
                self._joined = False
        if getattr(self, "_channel", None) is not None:
            self._channel.close()
            self._channel = None
        super().close()
