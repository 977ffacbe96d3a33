"""Training: outputs of every algo, resume, Ctrl-C, bad checkpoints, trained policies in runs."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from edgesim.cli import main
from edgesim.policies import Decision, Policy
from edgesim.rl import ALGOS, EdgeEnv, HSACConfig, load_trained_policy, train
from edgesim.rl.env import episode_stats
from edgesim.rl.train import progress_columns
from edgesim.scenario import Scenario, load_scenario
from edgesim.sim.simulation import Simulation
from tests.conftest import SCENARIOS, make_scenario

STEPS = 250


@pytest.fixture(autouse=True)
def _quiet_library_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def small() -> Scenario:
    return load_scenario(SCENARIOS / "small.yaml", overrides={"duration_s": 300})


def quick_config(algo: str) -> HSACConfig | None:
    """Updates from the 100th step, so a short run trains."""
    return (
        HSACConfig(variant=algo, learning_starts=100) if algo.startswith(("hsac", "sac")) else None
    )


def read_progress(out: Path) -> list[dict[str, str]]:
    with (out / "progress.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def checkpoints(out: Path) -> list[str]:
    return sorted(path.name for path in (out / "checkpoints").iterdir())


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """Each algo trained once for STEPS steps."""
    root = tmp_path_factory.mktemp("trained")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return {
            algo: train(
                small(),
                algo,
                STEPS,
                1,
                root / algo,
                config=quick_config(algo),
                log_every=50,
                checkpoint_every=100,
            ).parent
            for algo in ALGOS
        }


@pytest.mark.parametrize("algo", ALGOS)
def test_train_writes_policy_progress_metadata_and_checkpoints(trained, algo):
    out = trained[algo]
    assert (out / "policy.pt").is_file()
    rows = read_progress(out)
    assert list(rows[0]) == list(progress_columns(algo))
    assert [int(row["step"]) for row in rows] == [50, 100, 150, 200, 250]
    assert any(row["mean_utility"] for row in rows)
    assert checkpoints(out) == ["step-000000100", "step-000000200", "step-000000250"]
    meta = json.loads((out / "train.json").read_text())
    assert (meta["algo"], meta["seed"], meta["steps"]) == (algo, 1, STEPS)
    assert meta["scenario"]["servers"]["count"] == 2


@pytest.mark.parametrize("algo", ["hsac-ic", "ppo"])
def test_tensorboard_logs_are_written_when_tensorboard_is_installed(trained, algo):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed")
    events = list((trained[algo] / "tensorboard").rglob("events.out.tfevents.*"))
    assert events and all(path.stat().st_size > 0 for path in events)


@pytest.mark.parametrize("algo", ["hsac-ic", "sac"])
def test_hsac_progress_logs_losses_and_temperatures(trained, algo):
    last = read_progress(trained[algo])[-1]
    assert float(last["critic_loss"]) > 0.0
    assert float(last["alpha" if algo == "sac" else "alpha_hi"]) > 0.0
    if algo == "hsac-ic":
        assert float(last["intrinsic_reward_mean"]) > 0.0


@pytest.mark.parametrize("algo", ALGOS)
def test_edgesim_run_accepts_every_trained_policy(trained, algo, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "run",
            str(SCENARIOS / "small.yaml"),
            "--policy",
            str(trained[algo] / "policy.pt"),
            "--set",
            "duration_s=120",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["requests"] > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["policy"].endswith(f"{algo}/policy.pt")


def _observations(count: int) -> list:
    env = EdgeEnv(small(), seed=0)
    env.reset(seed=11)
    observations = []
    for _ in range(count):
        observations.append(env.simulation.scheduler.pending[1])
        env.step((0, 2))
    return observations


def _checkpoint_actions(out: Path, algo: str, observations: list) -> np.ndarray:
    """Greedy actions of the learner in the last checkpoint, loaded its own way."""
    from edgesim.rl.baselines import load_baseline
    from edgesim.rl.features import FeatureScales, encode_batch, mask_batch
    from edgesim.rl.hsac import HSACAgent

    folder = out / "checkpoints" / f"step-{STEPS:09d}"
    obs = encode_batch(observations, FeatureScales.from_scenario(small()))
    if algo in ("ppo", "dqn"):
        actions, _ = load_baseline(algo, folder / "model.zip").predict(obs, deterministic=True)
        return np.stack(np.divmod(actions, 5), axis=1) if algo == "dqn" else actions
    agent = HSACAgent.load(folder / "agent.pt")
    return agent.act_batch(obs, mask_batch(observations), deterministic=True)


@pytest.mark.parametrize("algo", ALGOS)
def test_saved_policy_takes_the_same_greedy_actions_as_the_learner(trained, algo):
    observations = _observations(30)
    policy = load_trained_policy(trained[algo] / "policy.pt")
    decisions = policy.decide_batch(observations)
    again = load_trained_policy(trained[algo] / "policy.pt").decide_batch(observations)
    assert decisions == again
    expected = _checkpoint_actions(trained[algo], algo, observations)
    assert [(d.server, d.level) for d in decisions] == [tuple(pair) for pair in expected.tolist()]


@pytest.mark.parametrize("algo", ["hsac", "dqn"])
def test_resume_continues_the_step_count_and_appends_progress(tmp_path, algo):
    out = tmp_path / algo
    train(small(), algo, 200, 3, out, config=quick_config(algo), log_every=50, checkpoint_every=100)
    train(
        small(),
        algo,
        350,
        3,
        out,
        resume=True,
        config=quick_config(algo),
        log_every=50,
        checkpoint_every=100,
    )
    steps = [int(row["step"]) for row in read_progress(out)]
    assert steps == [50, 100, 150, 200, 250, 300, 350]
    assert checkpoints(out) == ["step-000000200", "step-000000300", "step-000000350"]
    assert json.loads((out / "train.json").read_text())["steps"] == 350
    assert load_trained_policy(out / "policy.pt").trained_steps == 350


def test_ctrl_c_writes_a_checkpoint_then_reraises(tmp_path, monkeypatch):
    calls = {"steps": 0}
    original = EdgeEnv.step

    def interrupted_step(self, action):
        calls["steps"] += 1
        if calls["steps"] == 130:
            raise KeyboardInterrupt
        return original(self, action)

    monkeypatch.setattr(EdgeEnv, "step", interrupted_step)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(
            small(),
            "hsac",
            400,
            1,
            out,
            config=quick_config("hsac"),
            log_every=50,
            checkpoint_every=100,
        )
    assert checkpoints(out) == ["step-000000100", "step-000000129"]
    monkeypatch.setattr(EdgeEnv, "step", original)
    train(
        small(),
        "hsac",
        200,
        1,
        out,
        resume=True,
        config=quick_config("hsac"),
        log_every=50,
        checkpoint_every=100,
    )
    assert [int(row["step"]) for row in read_progress(out)] == [50, 100, 150, 200]


def test_corrupt_checkpoint_raises_value_error(trained, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(trained["hsac"], out)
    (out / "checkpoints" / f"step-{STEPS:09d}" / "agent.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not an HSAC checkpoint"):
        train(small(), "hsac", 400, 1, out, resume=True)
    (out / "checkpoints" / f"step-{STEPS:09d}" / "state.json").write_text("{broken")
    with pytest.raises(ValueError, match=r"state\.json"):
        train(small(), "hsac", 400, 1, out, resume=True)


def test_resume_with_another_algo_or_scenario_is_refused(trained, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(trained["sac"], out)
    with pytest.raises(ValueError, match="cannot resume it as hsac"):
        train(small(), "hsac", 400, 1, out, resume=True)
    three = load_scenario(SCENARIOS / "small.yaml", overrides={"servers.count": 3})
    with pytest.raises(ValueError, match="n_servers=2"):
        train(three, "sac", 400, 1, out, resume=True)
    with pytest.raises(ValueError, match="already holds"):
        train(small(), "sac", 400, 1, out)


def test_cli_reports_bad_checkpoints_and_mismatches_in_one_line(trained, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    scenario = str(SCENARIOS / "small.yaml")
    assert main(["run", scenario, "--policy", str(bad), "--out", str(tmp_path / "a")]) == 2
    policy = str(trained["hsac-ic"] / "policy.pt")
    args = ["run", scenario, "--policy", policy, "--set", "servers.count=3"]
    assert main([*args, "--out", str(tmp_path / "b")]) == 2
    assert (
        main(["train", scenario, "--algo", "sac", "--resume", "--out", str(tmp_path / "none")]) == 2
    )
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("edgesim: error:") for line in errors)
    assert "trained for 2 servers" in errors[1]


def _tiny_scenario(tmp_path: Path) -> Scenario:
    """One device, two servers a slow backhaul apart, three levels, long deadlines."""
    data = {
        "seed": 3,
        "duration_s": 4000,
        "area_m": 400,
        "devices": {
            "count": 1,
            "arrival": {"rate_per_s": 0.05},
            "input_mbit": [1.0, 1.0],
            "images": [1],
            "deadline_s": [30, 30],
            "min_quality": [0.0, 0.0],
        },
        "servers": {"count": 2},
        "backhaul": {"topology": "line", "hop_latency_s": 5.0},
        "quality": {
            "levels": [
                {"steps": 10, "resolution": 512},
                {"steps": 20, "resolution": 512},
                {"steps": 30, "resolution": 768},
            ]
        },
        "utility": {"w_energy": 0.0},
        "scheduler": {"dvfs": "max"},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_scenario(path)


class _Fixed(Policy):
    def __init__(self, server: int, level: int) -> None:
        self.pair = Decision(server, level)
        self.name = f"fixed-{server}-{level}"

    def decide(self, observation) -> Decision:
        return self.pair


def _brute_force_best(scenario: Scenario, seed: int) -> tuple[tuple[int, int], float]:
    scores = {
        (server, level): Simulation(scenario, _Fixed(server, level), seed)
        .run()
        .summary["mean_utility"]
        for server in range(2)
        for level in range(3)
    }
    best = max(scores, key=scores.get)
    return best, scores[best]


@pytest.mark.slow
def test_hsac_ic_finds_the_known_best_server_and_level(tmp_path):
    scenario = _tiny_scenario(tmp_path)
    path = train(scenario, "hsac-ic", 3000, 1, tmp_path / "run")
    for seed in (11, 12):
        best, best_utility = _brute_force_best(scenario, seed)
        result = Simulation(scenario, load_trained_policy(path), seed).run()
        chosen = list(zip(result.requests["server"], result.requests["level"], strict=True))
        assert chosen.count(best) >= 0.9 * len(chosen)
        assert result.summary["mean_utility"] >= best_utility - 0.02


def test_episode_stats_count_ended_requests():
    env = EdgeEnv(make_scenario(duration_s=60, devices={"count": 4}), seed=0)
    env.reset(seed=1)
    stats = episode_stats(env.simulation)
    assert stats["requests"] == env.simulation.ended_count
