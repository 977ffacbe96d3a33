"""Training of every learning scheduler (``edgesim train``), with logs, checkpoints and resume.

:func:`train` runs one algorithm on :class:`~edgesim.rl.env.EdgeEnv` and writes, in ``out``:

- ``policy.pt``: the final policy, one torch file whatever the algorithm (see
  :mod:`edgesim.rl.trained`, which loads it as a :class:`~edgesim.policies.Policy`);
- ``progress.csv``: a row per logging interval;
- ``train.json``: algorithm, seed, step budget, the resolved scenario and, for the HSAC
  variants, the agent's :class:`~edgesim.rl.config.HSACConfig`;
- ``checkpoints/step-NNNNNNNNN/``: periodic checkpoints, the last :data:`KEEP_CHECKPOINTS`
  kept, from which ``resume=True`` continues;
- ``tensorboard/``: TensorBoard logs, when the ``tensorboard`` package is installed.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import pickle
import random
import shutil
import signal
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from edgesim.rl.algos import ALGOS, BASELINES
from edgesim.rl.config import HSACConfig, config_differences
from edgesim.rl.features import server_feature_slice
from edgesim.rl.trained import POLICY_FORMAT, POLICY_VERSION
from edgesim.scenario import Scenario

__all__ = ["ALGOS", "KEEP_CHECKPOINTS", "POLICY_FORMAT", "TRAINING_THREADS", "train"]

logger = logging.getLogger(__name__)

KEEP_CHECKPOINTS = 3
CHECKPOINT_FORMAT = "edgesim-train-checkpoint"
TRAINING_THREADS = 1
"""Torch intra-op threads while training. The networks are two layers of 128 units and the
simulator runs in the same thread between updates, so a second thread only adds
synchronisation; on the 2-core reference machine one thread gave the most steps per second."""

_BASE_COLUMNS = ("step", "episodes", "episode_return", "mean_utility", "deadline_hit_ratio")
_ALGO_COLUMNS = {
    "hsac-ic": (
        "critic_loss",
        "q_mean",
        "actor_hi_loss",
        "actor_lo_loss",
        "alpha_hi",
        "alpha_lo",
        "entropy_hi",
        "entropy_lo",
        "icm_forward_loss",
        "icm_inverse_loss",
        "intrinsic_reward_mean",
        "eta",
    ),
    "hsac": (
        "critic_loss",
        "q_mean",
        "actor_hi_loss",
        "actor_lo_loss",
        "alpha_hi",
        "alpha_lo",
        "entropy_hi",
        "entropy_lo",
    ),
    "sac": ("critic_loss", "q_mean", "actor_loss", "alpha", "entropy"),
    "ppo": (
        "loss",
        "policy_gradient_loss",
        "value_loss",
        "entropy_loss",
        "approx_kl",
        "clip_fraction",
        "explained_variance",
    ),
    "dqn": ("loss", "exploration_rate"),
}


def progress_columns(algo: str) -> tuple[str, ...]:
    """The columns of ``progress.csv`` for ``algo``."""
    return (*_BASE_COLUMNS, *_ALGO_COLUMNS[algo], "wall_s")


class _Episodes:
    """Returns and end-of-episode statistics, averaged over a logging interval."""

    def __init__(self, count: int = 0) -> None:
        self.count = count
        self.running_return = 0.0
        self.finished: list[tuple[float, float, float]] = []

    def add(self, reward: float, info: dict[str, Any]) -> None:
        self.running_return += reward
        stats = info.get("episode_stats")
        if stats is not None:
            self.count += 1
            self.finished.append(
                (self.running_return, stats["mean_utility"], stats["deadline_hit_ratio"])
            )
            self.running_return = 0.0

    def drain(self) -> dict[str, float]:
        """Means over the episodes that ended since the last call (NaN when none did)."""
        names = ("episode_return", "mean_utility", "deadline_hit_ratio")
        if not self.finished:
            means = dict.fromkeys(names, math.nan)
        else:
            means = dict(zip(names, np.mean(self.finished, axis=0).tolist(), strict=True))
        self.finished = []
        return {"episodes": float(self.count), **means}


class _ProgressLog:
    """``progress.csv`` (appended across resumes) and, when available, TensorBoard."""

    def __init__(self, path: Path, columns: tuple[str, ...], tensorboard_dir: Path | None):
        self.path = path
        self.columns = columns
        self.writer = _tensorboard_writer(tensorboard_dir)

    def truncate_after(self, step: int) -> None:
        """Keep only the rows up to ``step`` (rows logged after the resumed checkpoint go)."""
        if not self.path.exists():
            return
        with self.path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.DictReader(handle) if float(row["step"]) <= step]
        self._rewrite(rows)

    def _rewrite(self, rows: list[dict[str, str]]) -> None:
        with self.path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, self.columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    def write(self, row: dict[str, float]) -> None:
        """Append one row; missing columns stay empty."""
        new = not self.path.exists()
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, self.columns, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({key: _cell(value) for key, value in row.items()})
        if self.writer is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, float) and math.isfinite(value):
                    self.writer.add_scalar(key, value, int(row["step"]))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _cell(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return ""
    return value


def _tensorboard_writer(folder: Path | None) -> Any:
    """A TensorBoard writer on ``folder``, or None when tensorboard is not installed."""
    if folder is None:
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(folder))


def _tensorboard_dir(out: Path) -> Path | None:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return None
    return out / "tensorboard"


class _InterruptGuard:
    """Holds a Ctrl-C (SIGINT) back until the current step's bookkeeping is complete.

    The trainer calls :meth:`check` between steps, where the step count, the learner's own
    counters and its replay buffer agree, so the checkpoint written on the interrupt is
    consistent. A second Ctrl-C before that interrupts at once. Nothing is held back outside
    the main thread or when a SIGINT handler other than Python's default is installed.
    """

    def __init__(self) -> None:
        self.pending = False
        self._previous: Any = None

    def __enter__(self) -> _InterruptGuard:
        in_main = threading.current_thread() is threading.main_thread()
        if in_main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._hold)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        self.pending = False

    def _hold(self, signum: int, frame: Any) -> None:
        if self.pending:
            raise KeyboardInterrupt
        self.pending = True

    def check(self) -> None:
        """Raise the KeyboardInterrupt held back since the last check, if there is one."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


class _Run:
    """What every trainer shares: the folder, the environment, intervals and the logs."""

    def __init__(
        self,
        scenario: Scenario,
        algo: str,
        steps: int,
        seed: int,
        out: Path,
        log_every: int,
        checkpoint_every: int,
    ) -> None:
        self.scenario = scenario
        self.algo = algo
        self.steps = steps
        self.seed = seed
        self.out = out
        # Imported here so that importing edgesim.rl loads neither the simulator nor gymnasium.
        from edgesim.rl.env import EdgeEnv

        self.env = EdgeEnv(scenario, seed=seed)
        self.dims = {
            "obs_dim": int(self.env.observation_space.shape[0]),
            "n_servers": self.env.n_servers,
            "n_levels": self.env.n_levels,
        }
        self.log_every, self.checkpoint_every = log_every, checkpoint_every
        self.step = 0
        self.episodes = _Episodes()
        self.log = _ProgressLog(out / "progress.csv", progress_columns(algo), _tensorboard_dir(out))
        self.started_s = time.perf_counter()
        self.wall_offset_s = 0.0
        self.trainer: Any = None
        self.bar: Any = None
        self.interrupts = _InterruptGuard()

    @property
    def checkpoints(self) -> Path:
        return self.out / "checkpoints"

    def count_step(self, reward: float, info: dict[str, Any]) -> None:
        """Count an environment step and its reward, as soon as the learner has stored it."""
        self.step += 1
        self.episodes.add(reward, info)
        if self.bar is not None:
            self.bar.update(1)

    def end_step(self) -> None:
        """Log and checkpoint when their interval comes round, then raise a held Ctrl-C."""
        if self.due(self.log_every):
            self.log_row(self.trainer.drain_losses())
        if self.due(self.checkpoint_every):
            _write_checkpoint(self, self.trainer.save)
        self.interrupts.check()

    def log_row(self, losses: dict[str, float]) -> None:
        row: dict[str, Any] = {"step": self.step, **self.episodes.drain(), **losses}
        row["wall_s"] = round(self.wall_offset_s + time.perf_counter() - self.started_s, 3)
        self.log.write(row)
        logger.info(
            "%s step %d: %d episodes, mean utility %s",
            self.algo,
            self.step,
            row["episodes"],
            row["mean_utility"],
        )

    def state(self) -> dict[str, Any]:
        """Trainer state saved beside the learner in a checkpoint."""
        return {
            "format": CHECKPOINT_FORMAT,
            "algo": self.algo,
            "step": self.step,
            **self.dims,
            "episodes": self.episodes.count,
            "wall_s": self.wall_offset_s + time.perf_counter() - self.started_s,
            "env_rng": self.env.np_random.bit_generator.state,
        }

    def restore(self, state: dict[str, Any], where: Path) -> None:
        """Check a checkpoint's state against this run and take its counters."""
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{where}: not an edgesim training checkpoint")
        if state.get("algo") != self.algo:
            found = state.get("algo")
            raise ValueError(f"{where}: checkpoint of algo {found!r}, not {self.algo!r}")
        for name in ("n_servers", "n_levels", "obs_dim"):
            value = self.dims[name]
            if state.get(name) != value:
                raise ValueError(
                    f"{where}: checkpoint has {name}={state.get(name)}, the scenario {value}"
                )
        try:
            self.step = int(state["step"])
            self.episodes = _Episodes(int(state["episodes"]))
            self.wall_offset_s = float(state["wall_s"])
            self.env.np_random.bit_generator.state = state["env_rng"]
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{where}: incomplete checkpoint state ({error})") from None

    def due(self, every: int) -> bool:
        return self.step % every == 0

    def policy_header(self) -> dict[str, Any]:
        """Metadata common to every ``policy.pt``."""
        return {
            "format": POLICY_FORMAT,
            "version": POLICY_VERSION,
            "algo": self.algo,
            "name": self.algo,
            **self.dims,
            "scales": self.env.scales.to_dict(),
            "steps": self.step,
            "seed": self.seed,
            "scenario": json.dumps(self.scenario.to_dict()),
        }


def _write_checkpoint(run: _Run, save_learner: Callable[[Path], None]) -> Path:
    """Write a checkpoint folder atomically and keep only the last few."""
    run.checkpoints.mkdir(parents=True, exist_ok=True)
    target = run.checkpoints / f"step-{run.step:09d}"
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=run.checkpoints))
    try:
        save_learner(staging)
        (staging / "state.json").write_text(json.dumps(run.state()), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for old in _checkpoint_folders(run.checkpoints)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)
    logger.info("checkpoint at step %d in %s", run.step, target)
    return target


def _checkpoint_folders(folder: Path) -> list[Path]:
    """Checkpoint folders, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.glob("step-*") if path.is_dir())


def _last_checkpoint(run: _Run) -> tuple[Path, dict[str, Any]]:
    """The newest checkpoint folder and its state; raises when there is none or it is bad."""
    folders = _checkpoint_folders(run.checkpoints)
    if not folders:
        raise FileNotFoundError(f"{run.checkpoints}: no checkpoint to resume from")
    folder = folders[-1]
    try:
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(f"{folder}: unreadable checkpoint state (state.json)") from None
    if not isinstance(state, dict):
        raise ValueError(f"{folder}: unreadable checkpoint state (state.json)")
    run.restore(state, folder)
    return folder, state


def _write_policy(path: Path, header: dict[str, Any], payload: bytes) -> None:
    """Save ``policy.pt`` atomically; the payload goes in as a uint8 tensor (stored raw,
    where pickled bytes would grow by half)."""
    import torch

    staging = path.with_name(f".{path.name}.partial")
    content = {**header, "payload": torch.frombuffer(bytearray(payload), dtype=torch.uint8)}
    torch.save(content, staging)
    os.replace(staging, path)


class _HsacTrainer:
    """HSAC-IC and its ablations: act, store, update, one decision at a time."""

    def __init__(self, run: _Run, config: HSACConfig | None) -> None:
        self.run = run
        self.requested = config is not None
        self.config = config if config is not None else HSACConfig(variant=run.algo)
        if self.config.variant != run.algo:
            self.config = HSACConfig.from_dict({**self.config.to_dict(), "variant": run.algo})
        self.agent = None
        self.losses: dict[str, list[float]] = {}

    def start(self, checkpoint: Path | None) -> None:
        from edgesim.rl.hsac import HSACAgent

        run = self.run
        if checkpoint is None:
            self.agent = HSACAgent(
                run.dims["obs_dim"],
                run.dims["n_servers"],
                run.dims["n_levels"],
                server_feature_slice(run.dims["n_servers"]),
                self.config,
                run.seed,
            )
            return
        self.agent = HSACAgent.load(checkpoint / "agent.pt", **run.dims)
        if self.requested and self.agent.config != self.config:
            found = ", ".join(config_differences(self.config, self.agent.config))
            raise ValueError(
                f"{run.out}: the run was trained with {found}; resume it with the same "
                "config, or with none to keep its own"
            )
        _restore_global_rng(checkpoint)

    def config_record(self) -> dict[str, Any] | None:
        """The agent's hyperparameters, as ``train.json`` records them."""
        return self.agent.config.to_dict()

    def save(self, folder: Path) -> None:
        self.agent.save(folder / "agent.pt")
        _save_global_rng(folder)

    def learn(self, first_reset_seed: int | None) -> None:
        run, agent = self.run, self.agent
        obs, info = run.env.reset(seed=first_reset_seed)
        mask = info["action_mask"]
        while run.step < run.steps:
            action = agent.act(obs, mask)
            next_obs, reward, terminated, truncated, info = run.env.step(action)
            agent.store(obs, action, reward, next_obs, info["action_mask"], terminated, mask=mask)
            run.count_step(reward, info)
            if agent.wants_update():
                self._note(agent.update())
            run.end_step()
            if terminated or truncated:
                next_obs, info = run.env.reset()
            obs, mask = next_obs, info["action_mask"]

    def _note(self, stats: dict[str, float]) -> None:
        for key, value in stats.items():
            self.losses.setdefault(key, []).append(value)

    def drain_losses(self) -> dict[str, float]:
        means = {key: float(np.mean(values)) for key, values in self.losses.items() if values}
        self.losses = {}
        return means

    def policy_payload(self) -> bytes:
        buffer = io.BytesIO()
        self.agent.save(buffer, include_buffer=False)
        return buffer.getvalue()


class _Sb3Trainer:
    """PPO and DQN through Stable-Baselines3's ``learn`` with a callback for the logs."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.model = None
        self.latest: dict[str, float] = {}

    def start(self, checkpoint: Path | None) -> None:
        from edgesim.rl.baselines import make_baseline

        run = self.run
        if checkpoint is None:
            self.model = make_baseline(
                run.algo, run.env, run.seed, run.steps, _tensorboard_dir(run.out)
            )
            return
        self.model = _load_sb3_checkpoint(run.algo, checkpoint, run.env)
        self.model.num_timesteps = run.step
        _restore_global_rng(checkpoint)

    def config_record(self) -> dict[str, Any] | None:
        """None: the baselines' settings are fixed (:mod:`edgesim.rl.baselines`)."""
        return None

    def save(self, folder: Path) -> None:
        self.model.save(folder / "model.zip")
        if self.run.algo == "dqn":
            self.model.save_replay_buffer(folder / "replay_buffer.pkl")
        _save_global_rng(folder)

    def learn(self, first_reset_seed: int | None) -> None:
        run = self.run
        if first_reset_seed is None:
            self.model.get_env().seed(int(run.env.np_random.integers(2**31 - 1)))
        remaining = run.steps - run.step
        self.model.learn(
            remaining,
            callback=_make_callback(self),
            reset_num_timesteps=False,
        )

    def on_step(self, reward: float, info: dict[str, Any]) -> None:
        """Called by the callback after each environment step; learning stops at the budget
        (PPO's last, partial rollout is then not trained on)."""
        self.run.count_step(reward, info)
        self.run.end_step()

    def drain_losses(self) -> dict[str, float]:
        values = self.model.logger.name_to_value
        for key, value in values.items():
            name = key.split("/", 1)[-1]
            if key.startswith(("train/", "rollout/exploration")):
                self.latest[name] = float(value)
        return dict(self.latest)

    def policy_payload(self) -> bytes:
        buffer = io.BytesIO()
        self.model.save(buffer)
        return buffer.getvalue()


_SB3_LOAD_ERRORS = (
    OSError,
    ValueError,
    zipfile.BadZipFile,
    pickle.UnpicklingError,
    KeyError,
    EOFError,
    RuntimeError,
    AssertionError,
    TypeError,
)
"""What Stable-Baselines3 raises on a corrupt model or replay buffer file (a ``.zip`` that is
none gives a ``ValueError`` whose text names the file object, not the checkpoint)."""


def _load_sb3_checkpoint(algo: str, checkpoint: Path, env: Any) -> Any:
    """The PPO or DQN model of a checkpoint folder (DQN with its replay buffer).

    :raises ValueError: one line naming the missing, corrupt or foreign file.
    """
    from edgesim.rl.baselines import load_baseline

    model_file = checkpoint / "model.zip"
    _require_file(model_file)
    try:
        model = load_baseline(algo, model_file, env)
    except _SB3_LOAD_ERRORS as error:
        raise ValueError(_corrupt(model_file, algo, error)) from None
    if algo == "dqn":
        buffer_file = checkpoint / "replay_buffer.pkl"
        _require_file(buffer_file)
        try:
            model.load_replay_buffer(buffer_file)
        except _SB3_LOAD_ERRORS as error:
            raise ValueError(_corrupt(buffer_file, algo, error)) from None
    return model


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise ValueError(f"{path}: missing from the checkpoint")


def _corrupt(path: Path, algo: str, error: BaseException) -> str:
    return f"{path}: corrupt or not an edgesim {algo} checkpoint ({type(error).__name__})"


def _make_callback(trainer: _Sb3Trainer) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class _Callback(BaseCallback):
        def _on_step(self) -> bool:
            trainer.on_step(float(self.locals["rewards"][0]), self.locals["infos"][0])
            return trainer.run.step < trainer.run.steps

    return _Callback()


def _save_global_rng(folder: Path) -> None:
    """Save the process-wide generators a learner may draw from (torch, numpy, random)."""
    import torch

    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "random": random.getstate(),
    }
    with (folder / "rng.pkl").open("wb") as handle:
        pickle.dump(state, handle)


def _restore_global_rng(folder: Path) -> None:
    import torch

    try:
        with (folder / "rng.pkl").open("rb") as handle:
            state = pickle.load(handle)
        torch.set_rng_state(state["torch"])
        np.random.set_state(state["numpy"])
        random.setstate(state["random"])
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError):
        raise ValueError(f"{folder}: corrupt random-state file (rng.pkl)") from None


@contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_arguments(
    algo: str, steps: int, out: Path, resume: bool, config: HSACConfig | None
) -> None:
    if algo not in ALGOS:
        raise ValueError(f"unknown algo {algo!r}: use one of {', '.join(ALGOS)}")
    if config is not None and algo in BASELINES:
        raise ValueError(f"{algo} takes no HSAC config; its settings are fixed")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if resume:
        meta = out / "train.json"
        if not meta.is_file():
            raise FileNotFoundError(f"{out}: no training run to resume (train.json missing)")
        try:
            previous = json.loads(meta.read_text(encoding="utf-8"))["algo"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            raise ValueError(f"{meta}: unreadable training metadata") from None
        if previous != algo:
            raise ValueError(f"{out}: holds a {previous} run, cannot resume it as {algo}")
    elif (out / "train.json").exists():
        raise ValueError(f"{out}: already holds a training run; pass --resume or another --out")


def _default_interval(steps: int, fraction: int, low: int, high: int) -> int:
    return int(min(max(steps // fraction, low), high))


def train(
    scenario: Scenario,
    algo: str,
    steps: int,
    seed: int,
    out: str | Path,
    resume: bool = False,
    progress: bool = False,
    *,
    config: HSACConfig | None = None,
    log_every: int | None = None,
    checkpoint_every: int | None = None,
) -> Path:
    """Train ``algo`` on ``scenario`` for ``steps`` decisions in all and save the policy.

    :param algo: ``hsac-ic``, ``hsac``, ``sac``, ``ppo`` or ``dqn``.
    :param steps: total environment steps of the run; with ``resume`` the steps already done
        count, so the same command line finishes an interrupted run.
    :param seed: seeds the environment and the learner.
    :param out: the run folder (see the module docstring).
    :param resume: continue from the last checkpoint in ``out``.
    :param progress: show a progress bar.
    :param config: an :class:`~edgesim.rl.config.HSACConfig` for the HSAC variants (its
        ``variant`` is set to ``algo``); the baselines take none. ``None`` means the defaults
        for a new run and, with ``resume``, the run's own config (recorded in ``train.json``
        and in its checkpoints); a resume with a config other than the run's is refused.
    :param log_every: steps between rows of ``progress.csv`` (default: about 1/100 of
        ``steps``, between 100 and 2,000).
    :param checkpoint_every: steps between checkpoints (default: about 1/10 of ``steps``,
        between 500 and 50,000); a checkpoint is always written at the end and on Ctrl-C.
    :returns: the path of ``policy.pt``.
    :raises ValueError: bad arguments, a config for a baseline or unlike the resumed run's, or
        a corrupt or mismatched checkpoint.
    :raises FileNotFoundError: ``resume`` without a run or a checkpoint in ``out``.
    """
    out = Path(out)
    _check_arguments(algo, steps, out, resume, config)
    log_every = log_every or _default_interval(steps, 100, 100, 2_000)
    checkpoint_every = checkpoint_every or _default_interval(steps, 10, 500, 50_000)
    out.mkdir(parents=True, exist_ok=True)
    run = _Run(scenario, algo, steps, seed, out, log_every, checkpoint_every)
    trainer = _Sb3Trainer(run) if algo in BASELINES else _HsacTrainer(run, config)
    with _torch_threads(TRAINING_THREADS):
        checkpoint = _last_checkpoint(run)[0] if resume else None
        trainer.start(checkpoint)
        if resume:
            run.log.truncate_after(run.step)
            logger.info("resuming %s at step %d from %s", algo, run.step, checkpoint)
        _write_meta(run, trainer.config_record())
        _learn(run, trainer, first_reset_seed=None if resume else seed, progress=progress)
    return _finish(run, trainer)


def _write_meta(run: _Run, config: dict[str, Any] | None) -> None:
    meta = {
        "algo": run.algo,
        "seed": run.seed,
        "steps": run.steps,
        "scenario": run.scenario.to_dict(),
    }
    if config is not None:
        meta["config"] = config
    (run.out / "train.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def _learn(run: _Run, trainer: Any, first_reset_seed: int | None, progress: bool) -> None:
    """Run the trainer to the step budget; Ctrl-C writes a checkpoint, then re-raises.

    A Ctrl-C takes effect between two steps (see :class:`_InterruptGuard`), and a
    ``KeyboardInterrupt`` raised inside a learner's update still finds the step counted by
    both the run and the learner, so the checkpoint's counters agree either way.
    """
    from tqdm import tqdm

    run.trainer = trainer
    run.bar = tqdm(
        total=run.steps, initial=run.step, unit="step", desc=run.algo, disable=not progress
    )
    with run.interrupts:
        try:
            if run.step < run.steps:
                trainer.learn(first_reset_seed)
            run.interrupts.check()
        except KeyboardInterrupt:
            logger.warning("interrupted at step %d: writing a checkpoint", run.step)
            _write_checkpoint(run, trainer.save)
            run.log.close()
            raise
        finally:
            run.bar.close()


def _finish(run: _Run, trainer: Any) -> Path:
    """Final log row and checkpoint (unless just written), then ``policy.pt``."""
    if not run.due(run.log_every):
        run.log_row(trainer.drain_losses())
    if not (run.checkpoints / f"step-{run.step:09d}").is_dir():
        _write_checkpoint(run, trainer.save)
    path = run.out / "policy.pt"
    _write_policy(path, run.policy_header(), trainer.policy_payload())
    run.env.close()
    run.log.close()
    logger.info("%s: trained %d steps, policy in %s", run.algo, run.step, path)
    return path
