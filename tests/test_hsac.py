"""Tests of the HSAC-IC agent, independent of the simulator environment."""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from edgesim.rl.algos import HSAC_VARIANTS
from edgesim.rl.config import HSACConfig, parse_config_overrides
from edgesim.rl.curiosity import Curiosity
from edgesim.rl.hsac import HSACAgent, PolicyTables, exact_soft_value
from edgesim.rl.networks import masked_log_softmax

OBS_DIM, N_SERVERS, N_LEVELS = 10, 3, 4
SERVER_FEATURES = slice(4, 10)
SMALL = HSACConfig(hidden_sizes=(32, 32), batch_size=32, learning_starts=64, buffer_size=2_000)
VARIANTS = HSAC_VARIANTS
BENCHMARK_SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_rl.py"


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Run each test on one intra-op thread (small networks; a shared 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_masks(rng: np.random.Generator, batch: int) -> np.ndarray:
    """Masks with whole servers and single pairs forbidden; every row allows something."""
    mask = rng.random((batch, N_SERVERS, N_LEVELS)) < 0.5
    mask[rng.random((batch, N_SERVERS)) < 0.3] = False
    rows = np.arange(batch)
    mask[rows, rng.integers(N_SERVERS, size=batch), rng.integers(N_LEVELS, size=batch)] = True
    return mask


def make_agent(variant: str = "hsac-ic", seed: int = 0, **overrides: object) -> HSACAgent:
    """Small agent for tests."""
    config = replace(SMALL, variant=variant, **overrides)
    return HSACAgent(OBS_DIM, N_SERVERS, N_LEVELS, SERVER_FEATURES, config, seed)


def fill(agent: HSACAgent, n: int, seed: int = 1) -> None:
    """Store ``n`` random transitions drawn from a generator independent of the agent."""
    rng = np.random.default_rng(seed)
    obs = rng.standard_normal(OBS_DIM).astype(np.float32)
    mask = random_masks(rng, 1)[0]
    for _ in range(n):
        next_obs = rng.standard_normal(OBS_DIM).astype(np.float32)
        next_mask = random_masks(rng, 1)[0]
        allowed = np.argwhere(mask)
        action = allowed[rng.integers(len(allowed))]
        done = bool(rng.random() < 0.1)
        agent.store(obs, action, float(rng.uniform(-1, 1)), next_obs, next_mask, done, mask=mask)
        obs, mask = next_obs, next_mask


def parameters(agent: HSACAgent) -> list[torch.Tensor]:
    """Every actor-critic parameter (not curiosity) of an agent, detached copies."""
    modules = [agent.critic, agent.critic_target, agent.actor]
    params = [p.detach().clone() for m in modules for p in m.parameters()]
    return [*params, agent.log_alpha.detach().clone()]


def test_exact_soft_value_equals_monte_carlo_over_both_policies() -> None:
    gen = torch.Generator().manual_seed(3)
    batch, n_samples = 4, 200_000
    mask = torch.from_numpy(random_masks(np.random.default_rng(3), batch))
    q = torch.randn(batch, N_SERVERS, N_LEVELS, generator=gen)
    p_hi, log_hi = masked_log_softmax(torch.randn(batch, N_SERVERS, generator=gen), mask.any(-1))
    p_lo, log_lo = masked_log_softmax(torch.randn(batch, N_SERVERS, N_LEVELS, generator=gen), mask)
    tables = PolicyTables(p_hi, log_hi, p_lo, log_lo)
    alpha_hi, alpha_lo = 0.7, 0.4
    exact = exact_soft_value(q, tables, alpha_hi, alpha_lo)

    for b in range(batch):
        server = torch.multinomial(p_hi[b], n_samples, replacement=True, generator=gen)
        level = torch.multinomial(p_lo[b, server], 1, generator=gen).squeeze(1)
        assert mask[b, server, level].all()
        draws = (
            q[b, server, level] - alpha_hi * log_hi[b, server] - alpha_lo * log_lo[b, server, level]
        )
        stderr = draws.std() / n_samples**0.5
        assert abs(draws.mean() - exact[b]) < 5 * stderr + 1e-6


@pytest.mark.parametrize("variant", VARIANTS)
def test_agent_soft_value_equals_monte_carlo_of_its_sampler(variant: str) -> None:
    agent = make_agent(variant, initial_alpha=0.8)
    rng = np.random.default_rng(4)
    obs = rng.standard_normal((3, OBS_DIM)).astype(np.float32)
    mask = random_masks(rng, 3)
    evaluation = agent.evaluate(obs, mask)
    n_samples = 40_000
    actions = agent.act_batch(np.repeat(obs, n_samples, 0), np.repeat(mask, n_samples, 0))
    rows = np.repeat(np.arange(3), n_samples)
    draws = evaluation.integrand[rows, actions[:, 0], actions[:, 1]].reshape(3, n_samples)
    stderr = draws.std(axis=1) / n_samples**0.5
    assert np.all(np.abs(draws.mean(axis=1) - evaluation.value) < 5 * stderr + 1e-6)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("deterministic", [False, True])
def test_masked_actions_are_never_chosen(variant: str, deterministic: bool) -> None:
    agent = make_agent(variant)
    fill(agent, 100)
    for _ in range(5):
        agent.update()
    rng = np.random.default_rng(5)
    obs = rng.standard_normal((5_000, OBS_DIM)).astype(np.float32) * 3
    mask = random_masks(rng, 5_000)
    actions = agent.act_batch(obs, mask, deterministic)
    assert mask[np.arange(5_000), actions[:, 0], actions[:, 1]].all()
    for i in range(200):
        server, level = agent.act(obs[i], mask[i], deterministic)
        assert mask[i, server, level]


def test_only_allowed_pair_is_always_chosen() -> None:
    agent = make_agent("hsac")
    mask = np.zeros((1_000, N_SERVERS, N_LEVELS), dtype=bool)
    mask[:, 2, 1] = True
    obs = np.random.default_rng(6).standard_normal((1_000, OBS_DIM)).astype(np.float32)
    assert (agent.act_batch(obs, mask) == [2, 1]).all()


@pytest.mark.parametrize("variant", VARIANTS)
def test_mask_row_without_allowed_action_raises(variant: str) -> None:
    agent = make_agent(variant)
    mask = np.ones((3, N_SERVERS, N_LEVELS), dtype=bool)
    mask[1] = False
    obs = np.zeros((3, OBS_DIM), dtype=np.float32)
    with pytest.raises(ValueError, match=r"row\(s\) \[1\]"):
        agent.act_batch(obs, mask)
    with pytest.raises(ValueError, match="allows no"):
        agent.act(obs[0], mask[1])


def test_curiosity_forward_error_falls_on_repeated_transitions() -> None:
    gen = torch.Generator().manual_seed(7)
    curiosity = Curiosity(SERVER_FEATURES, OBS_DIM, N_SERVERS, N_LEVELS, SMALL, gen)
    optimizer = torch.optim.Adam(curiosity.networks.parameters(), lr=SMALL.icm_lr)
    obs = torch.randn(64, OBS_DIM, generator=gen)
    next_obs = torch.randn(64, OBS_DIM, generator=gen)
    server = torch.randint(N_SERVERS, (64,), generator=gen)
    level = torch.randint(N_LEVELS, (64,), generator=gen)
    before = curiosity.forward_error(obs, server, level, next_obs).mean()
    for _ in range(600):
        loss, reward, _ = curiosity.loss_and_reward(obs, server, level, next_obs, eta=1.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = curiosity.forward_error(obs, server, level, next_obs).mean()
    assert after < 0.3 * before
    assert reward.mean() < 1.0


def test_hsac_ic_with_zero_eta_follows_hsac_exactly() -> None:
    with_icm = make_agent("hsac-ic", seed=11, eta_start=0.0, eta_end=0.0)
    without = make_agent("hsac", seed=11)
    for agent in (with_icm, without):
        fill(agent, 200)
        for _ in range(30):
            agent.update()
    stats = with_icm.update()
    without.update()
    assert stats["icm_forward_loss"] > 0.0
    for a, b in zip(parameters(with_icm), parameters(without), strict=True):
        assert torch.equal(a, b)
    obs = np.zeros((50, OBS_DIM), dtype=np.float32)
    mask = random_masks(np.random.default_rng(0), 50)
    assert (with_icm.act_batch(obs, mask) == without.act_batch(obs, mask)).all()


@pytest.mark.parametrize("variant", VARIANTS)
def test_save_then_load_resumes_identically(variant: str, tmp_path: Path) -> None:
    agent = make_agent(variant, seed=5)
    fill(agent, 150)
    for _ in range(20):
        agent.update()
    path = tmp_path / "agent.pt"
    agent.save(path)
    loaded = HSACAgent.load(path, obs_dim=OBS_DIM, n_servers=N_SERVERS, n_levels=N_LEVELS)

    rng = np.random.default_rng(8)
    obs = rng.standard_normal((200, OBS_DIM)).astype(np.float32)
    mask = random_masks(rng, 200)
    assert (agent.act_batch(obs, mask, True) == loaded.act_batch(obs, mask, True)).all()
    for resumed in (agent, loaded):
        fill(resumed, 30, seed=9)
        for _ in range(10):
            resumed.update()
    assert loaded.env_steps == agent.env_steps == 180
    for a, b in zip(parameters(agent), parameters(loaded), strict=True):
        assert torch.equal(a, b)
    assert (agent.act_batch(obs, mask) == loaded.act_batch(obs, mask)).all()


def test_load_rejects_a_file_that_is_not_a_checkpoint(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not an HSAC checkpoint"):
        HSACAgent.load(text)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match="not an HSAC checkpoint"):
        HSACAgent.load(other)


def test_load_reports_a_truncated_checkpoint_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "agent.pt"
    agent = make_agent("hsac-ic")
    fill(agent, 300)
    agent.save(path)
    assert path.stat().st_size > 40_000
    path.write_bytes(path.read_bytes()[:20_000])
    with pytest.raises(
        ValueError, match=r"agent\.pt is corrupt or not an HSAC checkpoint"
    ) as caught:
        HSACAgent.load(path)
    assert "\n" not in str(caught.value)


def test_load_from_memory_names_the_label_not_the_file_object() -> None:
    buffer = io.BytesIO()
    make_agent("hsac").save(buffer)
    truncated = buffer.getvalue()[:2_000]
    with pytest.raises(ValueError, match=r"^policy\.pt \(payload\) is corrupt") as caught:
        HSACAgent.load(io.BytesIO(truncated), label="policy.pt (payload)")
    assert "BytesIO" not in str(caught.value)
    with pytest.raises(ValueError, match="in memory") as caught:
        HSACAgent.load(io.BytesIO(b"garbage"))
    assert "BytesIO" not in str(caught.value)


def test_load_rejects_mismatched_dimensions(tmp_path: Path) -> None:
    path = tmp_path / "agent.pt"
    make_agent("hsac").save(path)
    with pytest.raises(ValueError, match="n_servers=3, expected n_servers=5"):
        HSACAgent.load(path, n_servers=5)


def test_agent_leaves_global_torch_random_state_untouched() -> None:
    state = torch.get_rng_state()
    agent = make_agent("hsac-ic")
    fill(agent, 100)
    agent.update()
    agent.act(np.zeros(OBS_DIM, dtype=np.float32), np.ones((N_SERVERS, N_LEVELS), dtype=bool))
    assert torch.equal(state, torch.get_rng_state())


def test_truncated_transition_is_stored_as_not_done() -> None:
    agent = make_agent("hsac")
    obs = np.zeros(OBS_DIM, dtype=np.float32)
    mask = np.ones((N_SERVERS, N_LEVELS), dtype=bool)
    agent.store(obs, (1, 2), 0.5, obs, mask, False, mask=mask)
    agent.store(obs, (0, 3), -0.5, obs, mask, True, mask=mask)
    assert agent.buffer.done[:2].tolist() == [0.0, 1.0]
    assert agent.buffer.reward[:2].tolist() == [0.5, -0.5]


def test_store_without_mask_warns_once() -> None:
    agent = make_agent("hsac")
    obs = np.zeros(OBS_DIM, dtype=np.float32)
    mask = np.ones((N_SERVERS, N_LEVELS), dtype=bool)
    with pytest.warns(UserWarning, match="without the mask"):
        agent.store(obs, (0, 0), 0.0, obs, mask, False)
    assert agent.buffer.mask[0].all()


def test_update_waits_for_learning_starts() -> None:
    agent = make_agent("hsac-ic")
    fill(agent, SMALL.learning_starts - 1)
    assert agent.update() == {}
    fill(agent, 1)
    stats = agent.update()
    expected = {"critic_loss", "actor_hi_loss", "actor_lo_loss", "alpha_hi", "alpha_lo"}
    assert expected | {"icm_forward_loss", "icm_inverse_loss", "intrinsic_reward_mean", "eta"} <= (
        stats.keys()
    )
    assert stats["eta"] == pytest.approx(SMALL.eta_at(SMALL.learning_starts))


def test_config_overrides_are_read_as_yaml_and_typed_by_field() -> None:
    values = parse_config_overrides(
        ["hidden_sizes=[64, 32]", "critic_lr=1e-3", "eta_decay_steps=1e5", "gamma=1"]
    )
    assert values == {
        "hidden_sizes": (64, 32),
        "critic_lr": 0.001,
        "eta_decay_steps": 100_000,
        "gamma": 1.0,
    }
    assert isinstance(values["eta_decay_steps"], int) and isinstance(values["gamma"], float)


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("gama=0.9", "did you mean gamma"),
        ("batch_size=2.5", "batch_size: expected an integer, got 2.5"),
        ("batch_size=true", "expected an integer, got True"),
        ("tau=fast", "tau: expected a number"),
        ("hidden_sizes=64", "hidden_sizes: expected a list of integers"),
        ("variant=sac", "the variant is the training algo"),
        ("learning_starts", "expected KEY=VALUE"),
    ],
)
def test_config_overrides_reject_unknown_keys_and_wrong_types(pair: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_config_overrides([pair])


def test_config_rejects_unknown_variant() -> None:
    with pytest.raises(ValueError, match="variant"):
        HSACConfig(variant="ppo")  # type: ignore[arg-type]


BEST = {0: (0, 3), 1: (1, 0), 2: (2, 1)}
"""Best (server, level) of each context of the bandit below."""


def bandit_context(rng: np.random.Generator) -> tuple[int, np.ndarray, np.ndarray]:
    """A context, its observation and a random mask that always allows the best pair."""
    context = int(rng.integers(3))
    obs = np.zeros(OBS_DIM, dtype=np.float32)
    obs[context] = 1.0
    obs[SERVER_FEATURES] = rng.standard_normal(6) * 0.1
    mask = random_masks(rng, 1)[0]
    mask[BEST[context]] = True
    return context, obs, mask


def bandit_reward(context: int, action: tuple[int, int]) -> float:
    """1 for the best pair, 0.3 for the best server at another level, else 0."""
    best = BEST[context]
    if tuple(action) == best:
        return 1.0
    return 0.3 if action[0] == best[0] else 0.0


def train_on_bandit(variant: str, steps: int) -> float:
    """Train on the masked contextual bandit; return the greedy hit rate on fresh contexts."""
    config = replace(
        SMALL, variant=variant, hidden_sizes=(64, 64), actor_lr=1e-3, critic_lr=1e-3, alpha_lr=1e-3
    )
    agent = HSACAgent(OBS_DIM, N_SERVERS, N_LEVELS, SERVER_FEATURES, config, seed=2)
    rng = np.random.default_rng(12)
    context, obs, mask = bandit_context(rng)
    for _ in range(steps):
        action = agent.act(obs, mask)
        reward = bandit_reward(context, action)
        next_context, next_obs, next_mask = bandit_context(rng)
        agent.store(obs, action, reward, next_obs, next_mask, True, mask=mask)
        agent.update()
        context, obs, mask = next_context, next_obs, next_mask
    tests = [bandit_context(rng) for _ in range(300)]
    actions = agent.act_batch(
        np.stack([t[1] for t in tests]), np.stack([t[2] for t in tests]), deterministic=True
    )
    return float(np.mean([tuple(a) == BEST[t[0]] for a, t in zip(actions, tests, strict=True)]))


@pytest.mark.parametrize("variant", ["hsac-ic", "sac"])
def test_agent_learns_best_pair_of_masked_contextual_bandit(variant: str) -> None:
    assert train_on_bandit(variant, steps=1_500) >= 0.95


def benchmark_script() -> ModuleType:
    """``benchmarks/bench_rl.py`` imported as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_rl", BENCHMARK_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.benchmark
def test_benchmark_training_steps_per_second() -> None:
    bench = benchmark_script()
    for variant in VARIANTS:
        rate = bench.agent_rate(1_000, variant=variant)
        print(f"{variant}: {rate:.0f} training steps/s (act + store + update)")  # noqa: T201
        assert rate > 0.0
