"""Training: outputs of every algo, resume, Ctrl-C, bad checkpoints, trained policies in runs."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from edgesim.cli import main
from edgesim.policies import Decision, Policy
from edgesim.rl import ALGOS, EdgeEnv, HSACConfig, load_trained_policy, train
from edgesim.rl.env import episode_stats
from edgesim.rl.hsac import HSACAgent
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


def agent_file(out: Path, step: int) -> dict:
    """The raw content of the HSAC checkpoint saved at ``step``."""
    path = out / "checkpoints" / f"step-{step:09d}" / "agent.pt"
    return torch.load(path, map_location="cpu", weights_only=True)


def state_file(out: Path, step: int) -> dict:
    return json.loads((out / "checkpoints" / f"step-{step:09d}" / "state.json").read_text())


def train_command(out: Path, algo: str, steps: int, *extra: str) -> list[str]:
    """``edgesim train`` on the small scenario, 300 s episodes."""
    return [
        "train",
        str(SCENARIOS / "small.yaml"),
        "--set",
        "duration_s=300",
        "--algo",
        algo,
        "--steps",
        str(steps),
        "--seed",
        "1",
        "--out",
        str(out),
        *extra,
    ]


def one_error_line(capsys) -> str:
    """The single line the command wrote to standard error."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgesim: error:"), lines
    return lines[0]


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


def _saved_learner(out: Path, algo: str, step: int) -> dict:
    """Parameters, replay buffer and step count of the learner in a checkpoint, read from its
    files without the trainer."""
    folder = out / "checkpoints" / f"step-{step:09d}"
    if algo == "dqn":
        from stable_baselines3 import DQN
        from stable_baselines3.common.save_util import load_from_pkl

        buffer = load_from_pkl(folder / "replay_buffer.pkl")
        params = DQN.load(folder / "model.zip", device="cpu").policy.state_dict()
        size = buffer.size()
        return {"params": params, "size": size, "obs": buffer.observations[:size], "steps": step}
    raw = agent_file(out, step)
    modules = raw["modules"]
    params = {
        f"{name}.{key}": value
        for name in ("critic", "actor")
        for key, value in modules[name].items()
    }
    buffer = raw["buffer"]
    return {
        "params": params,
        "size": buffer["size"],
        "obs": buffer["obs"].numpy(),
        "steps": raw["counters"]["env_steps"],
    }


def _spy_on_resumed_learner(monkeypatch, algo: str) -> dict:
    """Record the learner's state when training first uses it (HSAC: its first action; DQN:
    the call to ``learn``)."""
    seen: dict = {}
    if algo == "dqn":
        from stable_baselines3 import DQN

        learn = DQN.learn

        def spy_learn(model, *args, **kwargs):
            size = model.replay_buffer.size()
            seen.update(
                params={k: v.clone() for k, v in model.policy.state_dict().items()},
                size=size,
                obs=model.replay_buffer.observations[:size].copy(),
                steps=model.num_timesteps,
            )
            return learn(model, *args, **kwargs)

        monkeypatch.setattr(DQN, "learn", spy_learn)
        return seen
    act = HSACAgent.act

    def spy_act(agent, obs, mask, deterministic=False):
        if not seen:
            state = {f"critic.{k}": v for k, v in agent.critic.state_dict().items()}
            state |= {f"actor.{k}": v for k, v in agent.actor.state_dict().items()}
            size = len(agent.buffer)
            seen.update(
                params={k: v.clone() for k, v in state.items()},
                size=size,
                obs=agent.buffer.obs[:size].copy(),
                steps=agent.env_steps,
            )
        return act(agent, obs, mask, deterministic)

    monkeypatch.setattr(HSACAgent, "act", spy_act)
    return seen


@pytest.mark.parametrize("algo", ["hsac-ic", "dqn"])
def test_resume_restores_the_learner_and_continues_the_step_count(tmp_path, monkeypatch, algo):
    out = tmp_path / algo
    train(small(), algo, 200, 3, out, config=quick_config(algo), log_every=50, checkpoint_every=100)
    saved = _saved_learner(out, algo, 200)
    seen = _spy_on_resumed_learner(monkeypatch, algo)
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
    assert seen["steps"] == saved["steps"] == 200
    assert seen["size"] == saved["size"] > 100
    assert np.array_equal(seen["obs"], saved["obs"])
    assert seen["params"].keys() == saved["params"].keys()
    assert all(torch.equal(seen["params"][key], saved["params"][key]) for key in saved["params"])


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


def _interrupt_fifth_update(monkeypatch, interrupt) -> None:
    """Make the fifth call of ``HSACAgent.update`` call ``interrupt`` first."""
    update = HSACAgent.update
    calls = {"count": 0}

    def update_once_interrupted(agent):
        calls["count"] += 1
        if calls["count"] == 5:
            interrupt()
        return update(agent)

    monkeypatch.setattr(HSACAgent, "update", update_once_interrupted)


def _raise_keyboard_interrupt() -> None:
    raise KeyboardInterrupt


# Updates start at the batch size (128 stored transitions) and come every 4 steps, so the
# fifth is at step 144.
INTERRUPTED_STEP = 144


def test_ctrl_c_inside_an_update_saves_agreeing_counters_and_resume_finishes(tmp_path, monkeypatch):
    _interrupt_fifth_update(monkeypatch, _raise_keyboard_interrupt)
    out = tmp_path / "run"
    config = quick_config("hsac-ic")
    with pytest.raises(KeyboardInterrupt):
        train(small(), "hsac-ic", 300, 1, out, config=config, checkpoint_every=100)
    assert checkpoints(out) == ["step-000000100", f"step-{INTERRUPTED_STEP:09d}"]
    saved = agent_file(out, INTERRUPTED_STEP)
    assert state_file(out, INTERRUPTED_STEP)["step"] == INTERRUPTED_STEP
    assert saved["counters"] == {"env_steps": INTERRUPTED_STEP, "gradient_steps": 4}
    assert saved["buffer"]["size"] == INTERRUPTED_STEP

    monkeypatch.undo()
    train(small(), "hsac-ic", 300, 1, out, resume=True, log_every=50, checkpoint_every=100)
    final = agent_file(out, 300)
    assert state_file(out, 300)["step"] == 300
    # Only the interrupted update is missing: 44 update steps from 128 to 300, less one.
    assert final["counters"] == {"env_steps": 300, "gradient_steps": 43}
    assert final["buffer"]["size"] == 300
    assert load_trained_policy(out / "policy.pt").trained_steps == 300


def test_ctrl_c_signal_during_an_update_takes_effect_once_the_step_is_done(tmp_path, monkeypatch):
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("another SIGINT handler is installed")
    _interrupt_fifth_update(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGINT))
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(small(), "hsac-ic", 300, 1, out, config=quick_config("hsac-ic"))
    saved = agent_file(out, INTERRUPTED_STEP)
    assert state_file(out, INTERRUPTED_STEP)["step"] == INTERRUPTED_STEP
    assert saved["counters"] == {"env_steps": INTERRUPTED_STEP, "gradient_steps": 5}
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_corrupt_checkpoint_raises_value_error(trained, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(trained["hsac"], out)
    (out / "checkpoints" / f"step-{STEPS:09d}" / "agent.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not an HSAC checkpoint"):
        train(small(), "hsac", 400, 1, out, resume=True)
    (out / "checkpoints" / f"step-{STEPS:09d}" / "state.json").write_text("{broken")
    with pytest.raises(ValueError, match=r"state\.json"):
        train(small(), "hsac", 400, 1, out, resume=True)


def test_cli_resume_from_a_truncated_hsac_checkpoint_exits_2_in_one_line(trained, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(trained["hsac-ic"], out)
    agent = out / "checkpoints" / f"step-{STEPS:09d}" / "agent.pt"
    assert agent.stat().st_size > 40_000
    agent.write_bytes(agent.read_bytes()[:20_000])
    assert main(train_command(out, "hsac-ic", 400, "--resume")) == 2
    line = one_error_line(capsys)
    assert f"{agent} is corrupt or not an HSAC checkpoint" in line


@pytest.mark.parametrize(
    ("algo", "name"), [("ppo", "model.zip"), ("dqn", "model.zip"), ("dqn", "replay_buffer.pkl")]
)
def test_cli_resume_from_a_corrupt_baseline_checkpoint_names_the_file(
    trained, tmp_path, capsys, algo, name
):
    out = tmp_path / "copy"
    shutil.copytree(trained[algo], out)
    bad = out / "checkpoints" / f"step-{STEPS:09d}" / name
    bad.write_bytes(b"not what it claims to be")
    assert main(train_command(out, algo, 400, "--resume")) == 2
    line = one_error_line(capsys)
    assert f"{bad}: corrupt or not an edgesim {algo} checkpoint" in line
    assert "zip-file" not in line


@pytest.mark.parametrize("algo", ["hsac", "ppo"])
def test_policy_file_with_a_truncated_payload_names_the_file(trained, tmp_path, algo):
    content = torch.load(trained[algo] / "policy.pt", weights_only=True)
    content["payload"] = content["payload"][:2_000].clone()
    path = tmp_path / "policy.pt"
    torch.save(content, path)
    with pytest.raises(ValueError, match="corrupt") as caught:
        load_trained_policy(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert "BytesIO" not in message and "\n" not in message


def test_cli_config_is_recorded_used_and_kept_on_resume(tmp_path, capsys):
    out = tmp_path / "run"
    overrides = ("--config", "learning_starts=100", "--config", "batch_size=64")
    assert main(train_command(out, "hsac", 150, *overrides)) == 0
    recorded = json.loads((out / "train.json").read_text())["config"]
    assert (recorded["variant"], recorded["learning_starts"], recorded["batch_size"]) == (
        "hsac",
        100,
        64,
    )
    assert HSACConfig.from_dict(agent_file(out, 150)["config"]) == HSACConfig.from_dict(recorded)
    # The default learning_starts (1,000) would leave no update in 150 steps.
    assert float(read_progress(out)[-1]["critic_loss"]) > 0.0
    capsys.readouterr()

    assert main(train_command(out, "hsac", 300, "--resume", "--config", "batch_size=32")) == 2
    assert "batch_size=64 (not 32)" in one_error_line(capsys)
    assert main(train_command(out, "hsac", 300, "--resume", *overrides)) == 0
    assert main(train_command(out, "hsac", 400, "--resume")) == 0
    assert HSACConfig.from_dict(agent_file(out, 400)["config"]) == HSACConfig.from_dict(recorded)
    assert json.loads((out / "train.json").read_text())["config"] == recorded


@pytest.mark.parametrize(
    ("algo", "pair", "message"),
    [
        ("hsac-ic", "gama=0.9", "config gama: no such HSAC hyperparameter (did you mean gamma?)"),
        ("sac", "batch_size=big", "config batch_size: expected an integer, got 'big'"),
        ("hsac", "hidden_sizes=[64, x]", "config hidden_sizes: expected a list of integers"),
        ("hsac", "gamma=1.5", "gamma=1.5 is outside"),
        ("ppo", "gamma=0.9", "ppo has none"),
    ],
)
def test_cli_rejects_a_bad_config_in_one_line_and_trains_nothing(
    tmp_path, capsys, algo, pair, message
):
    out = tmp_path / "run"
    assert main(train_command(out, algo, 100, "--config", pair)) == 2
    assert message in one_error_line(capsys)
    assert not out.exists()


def test_algorithm_names_load_without_the_simulator_or_the_learners():
    code = (
        "import sys, edgesim.cli\n"
        "edgesim.cli.build_parser()\n"
        "print(' '.join({name.split('.')[0] for name in sys.modules}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = set(result.stdout.split())
    assert loaded & {"simpy", "gymnasium", "torch", "stable_baselines3"} == set()


def test_resume_with_another_algo_or_scenario_is_refused(trained, tmp_path):
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
