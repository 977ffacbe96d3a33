"""The Gymnasium environment: checkers, determinism, truncation, masks and rewards."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from edgesim.rl import EdgeEnv, FlatActionEnv, features
from edgesim.scenario import Scenario
from tests.conftest import make_scenario


def small(**sections) -> Scenario:
    """Six devices, two servers, a short run."""
    base = {
        "duration_s": 200,
        "devices": {"count": 6, "arrival": {"rate_per_s": 0.1}},
        "servers": {"count": 2},
    }
    return make_scenario(**{**base, **sections})


def rollout(env: EdgeEnv, seed: int, action_seed: int = 0, limit: int = 10_000):
    """Observations, rewards and masks of one episode with uniform random actions."""
    rng = np.random.default_rng(action_seed)
    obs, info = env.reset(seed=seed)
    observations, rewards, masks = [obs], [], [info["action_mask"]]
    for _ in range(limit):
        obs, reward, terminated, truncated, info = env.step(rng.integers(env.action_space.nvec))
        assert not terminated
        observations.append(obs)
        rewards.append(reward)
        masks.append(info["action_mask"])
        if truncated:
            return observations, rewards, masks, info
    raise AssertionError("episode did not end")


def test_env_passes_gymnasium_checker():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gymnasium_check_env(EdgeEnv(small(), seed=0), skip_render_check=True)


@pytest.mark.parametrize("flat", [False, True])
def test_env_passes_stable_baselines3_checker(flat: bool):
    env = EdgeEnv(small(), seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sb3_check_env(FlatActionEnv(env) if flat else env)


def test_seeded_reset_and_same_actions_reproduce_observations_and_rewards():
    first = rollout(EdgeEnv(small(), seed=5), seed=42)
    second = rollout(EdgeEnv(small(), seed=9), seed=42)
    assert len(first[0]) == len(second[0]) > 10
    np.testing.assert_array_equal(np.stack(first[0]), np.stack(second[0]))
    assert first[1] == second[1]


def test_unseeded_resets_draw_different_runs_from_the_env_generator():
    env_a, env_b = EdgeEnv(small(), seed=3), EdgeEnv(small(), seed=3)
    runs_a = [env_a.reset()[0] for _ in range(2)]
    runs_b = [env_b.reset()[0] for _ in range(2)]
    np.testing.assert_array_equal(runs_a[1], runs_b[1])
    assert not np.array_equal(runs_a[0], runs_a[1])


def test_episode_is_truncated_at_the_duration():
    env = EdgeEnv(small(), seed=0)
    *_, info = rollout(env, seed=1)
    simulation = env.simulation
    assert simulation.env.now < 200.0 <= simulation.env.peek()
    assert info["episode_stats"]["requests"] == simulation.ended_count > 0
    with pytest.raises(RuntimeError):
        env.step((0, 0))


def test_observation_matches_its_space_and_mask_matches_valid_actions():
    env = EdgeEnv(small(), seed=0)
    env.reset(seed=2)
    for _ in range(40):
        observation = env.simulation.scheduler.pending[1]
        expected = np.array(observation.valid_actions())
        np.testing.assert_array_equal(env.action_mask, expected)
        obs, *_ = env.step((1, 4))
        assert env.observation_space.contains(obs)


def test_requests_no_pair_can_serve_are_rejected_without_asking_the_agent():
    env = EdgeEnv(
        small(devices={"count": 6, "arrival": {"rate_per_s": 0.1}, "deadline_s": [0.2, 12.0]}),
        seed=0,
    )
    _, _, masks, _ = rollout(env, seed=4)
    assert all(mask.any() for mask in masks)
    asked = len(masks) - 1
    rejected = env.simulation.recorder.outcomes["rejected"]
    requests = env.simulation.finish(0.0).requests
    assert rejected > 0
    assert requests["decided"].notna().sum() == asked + rejected
    assert (requests.loc[requests["outcome"] == "rejected", "server"] == -1).all()


def test_delayed_rewards_add_up_to_the_utility_of_ended_requests():
    env = EdgeEnv(small(), seed=0)
    _, rewards, _, _ = rollout(env, seed=6)
    assert sum(rewards) == pytest.approx(env.simulation.ended_utility)


def test_predicted_reward_is_the_decided_request_prediction():
    env = EdgeEnv(small(scheduler={"reward": "predicted"}), seed=0)
    env.reset(seed=6)
    for action in [(0, 0), (1, 2), (0, 4), (1, 3)] * 5:
        request = env.simulation.scheduler.pending[0]
        _, reward, *_ = env.step(action)
        assert reward == request.predicted_utility
        assert request.server == action[0] and request.level == action[1]


def test_masked_action_is_still_carried_out():
    env = EdgeEnv(
        small(devices={"count": 6, "arrival": {"rate_per_s": 0.1}, "min_quality": [0.9, 0.9]}),
        seed=0,
    )
    env.reset(seed=1)
    assert not env.action_mask[:, 0].any()
    request = env.simulation.scheduler.pending[0]
    env.step((0, 0))
    assert (request.server, request.level) == (0, 0)


def test_flat_action_is_server_times_levels_plus_level():
    env = FlatActionEnv(EdgeEnv(small(), seed=0))
    assert env.action_space.n == 2 * 5
    assert env.action(7) == (1, 2)


def test_feature_layout_and_batch_encoding_agree():
    scenario = small()
    env = EdgeEnv(scenario, seed=0)
    env.reset(seed=3)
    observations = []
    for _ in range(5):
        observations.append(env.simulation.scheduler.pending[1])
        env.step((0, 1))
    scales = features.FeatureScales.from_scenario(scenario)
    batch = features.encode_batch(observations, scales)
    assert batch.shape == (5, features.observation_size(2, 5))
    np.testing.assert_array_equal(batch[2], features.encode(observations[2], scales))
    server_block = batch[:, features.server_feature_slice(2)]
    assert server_block.shape == (5, 2 * features.SERVER_FEATURES)
    assert features.mask_batch(observations).shape == (5, 2, 5)
