"""somnium's spacetime DiT in PyTorch: the same architecture, shapes, parameter
count, sampler and training objective as `world_model/src/` builds them, for
speed comparisons on the same machine (`bench_peer.py`). Not part of somnium.

Reads a `ModelConfig` as somnium serialises it (serde field names of
`world_model/src/config.rs`). What it mirrors, file by file:

- `dit/mod.rs`: patch embedding (Dense P -> D), learned (y, x) positions,
  per-frame conditioning SiLU'd once, the blocks, final adaLN (shift, scale)
  + layer norm (eps 1e-6, no affine) + linear head back to latents, and a
  reward / termination head (D -> 2) on each frame's mean token after the
  final modulated norm.
- `dit/embed.rs`: sinusoidal features of 1000 s (cos half then sin half),
  noise MLP (S -> D, SiLU, D -> D), action MLP (A -> D, SiLU, D -> D) or a
  table for discrete actions, a learned "no action" vector at window
  position 0 (when the call starts at t0 = 0); 3D rotary over (t, y, x) with
  y and x getting 3/8 of the pairs each and t the rest, pair i of an axis with
  n pairs turning by pos * base^(-i/n), on interleaved pairs.
- `dit/block.rs`: adaLN-Zero (D -> 6D, zero-initialised: shift1, scale1,
  gate1, shift2, scale2, gate2), LN(x)(1 + scale) + shift, fused qkv
  (D -> 3D, split (3, H, Dh)), rotary on q and k, block-causal attention
  (a key's frame <= the query's frame; cached keys first), x + gate * proj,
  then x + gate * fc2(GELU_tanh(fc1(.))).
- `sampler.rs`: `dream_step` = one context pass keeping its keys and values,
  then K Euler steps of the new frame from s = 1 to 0 on a uniform grid with
  the x0 prediction: x <- x0 + (x - x0) s'/s.
- `objective.rs` and `train/mod.rs`: rectified flow x_s = (1 - s) x0 + s eps,
  context levels U(0, context_noise_max), target level from `target_noise`,
  foreground-weighted MSE on the target frame, reward MSE and termination
  BCE (weight `reward_loss_weight`); AdamW (betas 0.9 / 0.99, eps 1e-8, decay
  0.01 on `.weight` only), gradient clipping at 1.0, an EMA of the weights.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Config:
    """The fields of somnium's ModelConfig this model needs, from its JSON."""

    def __init__(self, d):
        self.frame_size = d["frame_size"]
        self.model_size = d["model_size"]
        self.codec = d["codec"]
        self.tubelet = d["tubelet"]
        self.width, self.depth, self.heads = d["width"], d["depth"], d["heads"]
        self.mlp_ratio = d["mlp_ratio"]
        self.context_frames = d["context_frames"]
        self.action = d["action"]
        self.target = d["target"]
        self.predict_delta = d["predict_delta"]
        self.target_noise = d["target_noise"]
        self.context_noise_max = d["context_noise_max"]
        self.foreground_weight = d["foreground_weight"]
        self.foreground_from = d["foreground_from"]
        self.foreground_threshold = d["foreground_threshold"]
        self.reward_loss_weight = d["reward_loss_weight"]
        self.sampling_steps = d["sampling_steps"]
        self.rope_base = d["rope_base"]
        self.learned_positions = d["learned_positions"]
        self.noise_features = d["noise_features"]
        if self.tubelet[0] != 1:
            raise ValueError(f"tubelet t = {self.tubelet[0]}: the DiT needs t = 1")

    def latent_shape(self):
        if self.codec["kind"] == "pixel":
            return 3, self.model_size[0], self.model_size[1]
        return self.codec["channels"], self.frame_size[0] // 4, self.frame_size[1] // 4

    def grid(self):
        _, h, w = self.latent_shape()
        return h // self.tubelet[1], w // self.tubelet[2]

    def tokens_per_frame(self):
        gy, gx = self.grid()
        return gy * gx

    def patch_dim(self):
        return self.latent_shape()[0] * self.tubelet[1] * self.tubelet[2]

    def window(self):
        return self.context_frames + 1

    def head_dim(self):
        return self.width // self.heads

    def action_width(self):
        return self.action["dim"] if self.action["kind"] == "continuous" else 1

    def param_count(self):
        """ModelConfig::param_count, term by term."""
        d, p = self.width, self.patch_dim()
        lin = lambda i, o: i * o + o  # noqa: E731
        n = lin(p, d) + lin(self.noise_features, d) + lin(d, d) + d
        if self.learned_positions:
            n += self.tokens_per_frame() * d
        if self.action["kind"] == "continuous":
            n += lin(self.action["dim"], d) + lin(d, d)
        else:
            n += self.action["n"] * d
        r = self.mlp_ratio
        block = lin(d, 6 * d) + lin(d, 3 * d) + lin(d, d) + lin(d, r * d) + lin(r * d, d)
        return n + self.depth * block + lin(d, 2 * d) + lin(d, p) + lin(d, 2)


def linear(inp, out, zero=False):
    """nn.Linear initialised as somnium's ParamStore: U(+-1/sqrt(in)) for weight and bias, or zeros."""
    layer = nn.Linear(inp, out)
    bound = 1.0 / math.sqrt(inp)
    for t in (layer.weight, layer.bias):
        if zero:
            nn.init.zeros_(t)
        else:
            nn.init.uniform_(t, -bound, bound)
    return layer


def sinusoidal(s, dim):
    """s [B, F] -> [B, F, dim]: cos then sin of 1000 s times exp(-ln(1e4) i / half)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half) * 1000.0
    angles = s.float()[..., None] * freqs.float()
    return torch.cat([angles.cos(), angles.sin()], -1)


def rope_split(head_dim):
    pairs = head_dim // 2
    yx = 3 * pairs // 8
    return pairs - 2 * yx, yx, yx


def rope_tables(t0, frames, grid, head_dim, base):
    """Complex rotations [frames * gy * gx, head_dim / 2] for frames t0..t0+frames."""
    gy, gx = grid
    t = torch.arange(t0, t0 + frames, dtype=torch.float64).repeat_interleave(gy * gx)
    y = torch.arange(gy, dtype=torch.float64).repeat_interleave(gx).repeat(frames)
    x = torch.arange(gx, dtype=torch.float64).repeat(gy * frames)
    angles = []
    for pos, n in zip((t, y, x), rope_split(head_dim)):
        inv = base ** (-torch.arange(n, dtype=torch.float64) / n)
        angles.append(pos[:, None] * inv)
    a = torch.cat(angles, -1).float()
    return torch.polar(torch.ones_like(a), a)


def apply_rope(x, rot):
    """x [B, H, L, Dh]: interleaved pairs (x[2i], x[2i+1]) turned by rot [L, Dh/2] (candle's rope_i)."""
    return torch.view_as_real(torch.view_as_complex(x.float().unflatten(-1, (-1, 2))) * rot).flatten(-2)


def modulated_layer_norm(x, shift, scale, eps=1e-6):
    """x [B, F, N, D], shift/scale [B, F, D] -> LN(x) * (1 + scale) + shift."""
    return torch.addcmul(shift[:, :, None], F.layer_norm(x, x.shape[-1:], eps=eps), 1 + scale[:, :, None])


def block_causal_mask(t0, frames, n, keys):
    """Bool [frames * n, keys], True where the key's frame <= the query's; None when all are."""
    q_frame = torch.arange(t0, t0 + frames).repeat_interleave(n)
    k_frame = torch.arange(keys) // n
    mask = k_frame[None, :] <= q_frame[:, None]
    return None if bool(mask.all()) else mask


def patchify(x, tubelet):
    """[B, T, C, H, W] -> [B, T, gy * gx, C * ph * pw] (frame, row, column; values channel, y, x)."""
    b, t, c, h, w = x.shape
    _, ph, pw = tubelet
    x = x.reshape(b, t, c, h // ph, ph, w // pw, pw).permute(0, 1, 3, 5, 2, 4, 6)
    return x.reshape(b, t, (h // ph) * (w // pw), c * ph * pw)


def unpatchify(tokens, tubelet, c, h, w):
    b, t, _, _ = tokens.shape
    _, ph, pw = tubelet
    x = tokens.reshape(b, t, h // ph, w // pw, c, ph, pw).permute(0, 1, 4, 2, 5, 3, 6)
    return x.reshape(b, t, c, h, w)


class Block(nn.Module):
    def __init__(self, d, heads, mlp_ratio):
        super().__init__()
        self.heads = heads
        self.ada = linear(d, 6 * d, zero=True)
        self.qkv = linear(d, 3 * d)
        self.proj = linear(d, d)
        self.fc1 = linear(d, mlp_ratio * d)
        self.fc2 = linear(mlp_ratio * d, d)

    def forward(self, x, cond_silu, rot, mask, cache):
        """x [B, F, N, D], cond_silu [B, F, D], cache (k, v) [B, H, Lc, Dh] or None.
        -> x [B, F, N, D], this call's (k, v) [B, H, F*N, Dh]."""
        b, f, n, d = x.shape
        sh1, sc1, g1, sh2, sc2, g2 = self.ada(cond_silu).chunk(6, -1)
        h = modulated_layer_norm(x, sh1, sc1)
        q, k, v = self.qkv(h).view(b, f * n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(q, rot), apply_rope(k, rot)
        k_all, v_all = (k, v) if cache is None else (torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2))
        a = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=mask)
        x = x + g1[:, :, None] * self.proj(a.transpose(1, 2).reshape(b, f, n, d))
        h = modulated_layer_norm(x, sh2, sc2)
        x = x + g2[:, :, None] * self.fc2(F.gelu(self.fc1(h), approximate="tanh"))
        return x, (k, v)


class DiT(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        d, p = cfg.width, cfg.patch_dim()
        self.patch_in = linear(p, d)
        self.positions = nn.Parameter(torch.randn(cfg.tokens_per_frame(), d) * 0.02) if cfg.learned_positions else None
        self.noise_fc1 = linear(cfg.noise_features, d)
        self.noise_fc2 = linear(d, d)
        if cfg.action["kind"] == "continuous":
            self.action_fc1 = linear(cfg.action["dim"], d)
            self.action_fc2 = linear(d, d)
        else:
            self.action_table = nn.Parameter(torch.randn(cfg.action["n"], d) * 0.02)
        self.no_action = nn.Parameter(torch.zeros(d))
        self.blocks = nn.ModuleList(Block(d, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.final_ada = linear(d, 2 * d, zero=True)
        self.head = linear(d, p, zero=True)
        self.outcome_head = linear(d, 2)

    def conditioning(self, s, actions, t0):
        """s [B, F], actions [B, F, A] -> [B, F, D] (noise-level + action embeddings)."""
        noise = self.noise_fc2(F.silu(self.noise_fc1(sinusoidal(s, self.cfg.noise_features))))
        if self.cfg.action["kind"] == "continuous":
            act = self.action_fc2(F.silu(self.action_fc1(actions)))
        else:
            idx = actions[..., 0].clamp(0, self.cfg.action["n"] - 1).long()
            act = self.action_table[idx]
        if t0 == 0:
            act = torch.cat([self.no_action.expand(act.shape[0], 1, -1), act[:, 1:]], 1)
        return noise + act

    def forward(self, x, s, actions, cache=None, keep_cache=False):
        """x [B, F, C, h, w] noisy latents of frames t0..t0+F (t0 = cached frames), s [B, F],
        actions [B, F, A]. -> prediction [B, F, C, h, w], reward [B, F], terminated logit
        [B, F], and the cache extended by these frames when keep_cache (else None)."""
        cfg = self.cfg
        c, h, w = cfg.latent_shape()
        b, f = x.shape[:2]
        n = cfg.tokens_per_frame()
        t0 = 0 if cache is None else cache[1]
        tokens = self.patch_in(patchify(x, cfg.tubelet))
        if self.positions is not None:
            tokens = tokens + self.positions
        cond_silu = F.silu(self.conditioning(s, actions, t0))
        rot = rope_tables(t0, f, cfg.grid(), cfg.head_dim(), cfg.rope_base)
        mask = block_causal_mask(t0, f, n, (t0 + f) * n)
        layers = []
        for i, block in enumerate(self.blocks):
            layer_cache = None if cache is None else cache[0][i]
            tokens, kv = block(tokens, cond_silu, rot, mask, layer_cache)
            if keep_cache:
                layers.append(kv if layer_cache is None else
                              (torch.cat([layer_cache[0], kv[0]], 2), torch.cat([layer_cache[1], kv[1]], 2)))
        shift, scale = self.final_ada(cond_silu).chunk(2, -1)
        normed = modulated_layer_norm(tokens, shift, scale)
        prediction = unpatchify(self.head(normed), cfg.tubelet, c, h, w)
        outcome = self.outcome_head(normed.mean(2))
        new_cache = (layers, t0 + f) if keep_cache else None
        return prediction, outcome[..., 0], outcome[..., 1], new_cache


def clean_estimate(cfg, out, x_s, s, last_context):
    """objective::clean_estimate: out, x_s, last_context [B, C, h, w], s [B]."""
    if cfg.target == "x0":
        return out + last_context if cfg.predict_delta else out
    return x_s - out * s[:, None, None, None]


@torch.inference_mode()
def dream_step(model, context, actions, steps=4, context_noise=0.0, generator=None):
    """sampler::dream_step: context [B, W, C, h, w], actions [B, W+1, A] -> next [B, C, h, w],
    reward [B], terminated probability [B]."""
    cfg = model.cfg
    wn = cfg.context_frames
    b = context.shape[0]
    noise = torch.randn(b, wn + 1, *context.shape[2:], generator=generator)
    cs = context_noise
    ctx = context * (1 - cs) + noise[:, :wn] * cs if cs > 0 else context
    s_ctx = torch.full((b, wn), cs)
    last_ctx = ctx[:, wn - 1]
    _, _, _, cache = model(ctx, s_ctx, actions[:, :wn], None, True)
    x = noise[:, wn]
    new_action = actions[:, wn:]
    reward = term = None
    for i in range(steps):
        s, s_next = 1 - i / steps, 1 - (i + 1) / steps
        sv = torch.full((b, 1), s)
        pred, r, z, _ = model(x[:, None], sv, new_action, cache, False)
        x0 = clean_estimate(cfg, pred[:, -1], x, sv[:, 0], last_ctx)
        x = x0 + (x - x0) * (s_next / s)
        reward, term = r[:, -1], torch.sigmoid(z[:, -1])
    return x, reward, term


def target_levels(cfg, batch):
    dist = cfg.target_noise
    if dist["kind"] == "high_biased":
        u = torch.rand(batch)
        return 1 - (1 - u) * (1 - u)
    if dist["kind"] == "uniform":
        return torch.rand(batch)
    return torch.sigmoid(dist["mean"] + dist["std"] * torch.randn(batch))


def draw_noise(cfg, batch):
    """objective::draw_noise: levels [B, W+1], eps [B, W+1, C, h, w]."""
    ctx = torch.rand(batch, cfg.context_frames) * cfg.context_noise_max
    levels = torch.cat([ctx, target_levels(cfg, batch)[:, None]], 1)
    return levels, torch.randn(batch, cfg.window(), *cfg.latent_shape())


def foreground_weights(cfg, target, last_context, background):
    mask = lambda x: ((x - background).abs().amax(1, keepdim=True) > cfg.foreground_threshold).float()  # noqa: E731
    if cfg.foreground_from == "target":
        fg = mask(target)
    elif cfg.foreground_from == "context":
        fg = mask(last_context)
    else:
        fg = torch.maximum(mask(target), mask(last_context))
    return fg * (cfg.foreground_weight - 1) + 1


def loss(model, latents, actions, reward, terminated, levels, eps, background):
    """objective::loss -> total (scalar)."""
    cfg, w = model.cfg, model.cfg.context_frames
    s5 = levels[:, :, None, None, None]
    xs = latents * (1 - s5) + eps * s5
    pred, r_hat, z, _ = model(xs, levels, actions)
    target, x_s, s = latents[:, w], xs[:, w], levels[:, w]
    weights = foreground_weights(cfg, target, latents[:, w - 1], background)
    if cfg.target == "x0":
        err = clean_estimate(cfg, pred[:, w], x_s, s, xs[:, w - 1]) - target
    else:
        err = pred[:, w] - (eps[:, w] - target)
    frame = (err.square() * weights).mean()
    reward_loss = (r_hat[:, w] - reward).square().mean()
    term_loss = (F.softplus(z[:, w]) - terminated * z[:, w]).mean()
    return frame + (reward_loss + term_loss) * cfg.reward_loss_weight


class Trainer:
    """Trainer::train_step's work: batch, noise, loss, backward, clip, AdamW, EMA."""

    def __init__(self, model, windows, batch, lr=1e-4):
        self.model, self.batch = model, batch
        self.latents, self.actions, self.rewards, self.terminated, self.background = windows
        named = list(model.named_parameters())
        decay = [p for n, p in named if n.endswith(".weight")]
        rest = [p for n, p in named if not n.endswith(".weight")]
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                      {"params": rest, "weight_decay": 0.0}],
                                     lr=lr, betas=(0.9, 0.99), eps=1e-8)
        self.params = [p for _, p in named]
        self.ema = [p.detach().clone() for p in self.params]
        self.step = 0

    def train_step(self):
        idx = torch.randint(0, self.latents.shape[0], (self.batch,))
        levels, eps = draw_noise(self.model.cfg, self.batch)
        self.opt.zero_grad(set_to_none=True)
        total = loss(self.model, self.latents[idx], self.actions[idx], self.rewards[idx],
                     self.terminated[idx], levels, eps, self.background)
        total.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        if torch.isfinite(norm):
            self.opt.step()
            d = min(0.999, (1 + self.step) / (10 + self.step))
            with torch.no_grad():
                torch._foreach_lerp_(self.ema, [p.detach() for p in self.params], 1 - d)
        self.step += 1
        return float(total.detach())
