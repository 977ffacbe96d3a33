"""The package's layers import only what they are allowed to (docs/architecture.md)."""

import subprocess
import sys

import pytest


def modules_loaded_by(statement: str) -> set[str]:
    """Top-level modules present in a fresh interpreter after ``statement``."""
    listing = "print(' '.join({m.split('.')[0] for m in sys.modules}))"
    code = f"{statement}\nimport sys\n{listing}"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(output.split())


@pytest.mark.parametrize(
    ("statement", "forbidden"),
    [
        ("import edgesim.model", {"simpy", "torch", "stable_baselines3"}),
        ("import edgesim.policies", {"simpy", "torch", "stable_baselines3"}),
        ("from edgesim import Simulation", {"torch", "stable_baselines3"}),
        ("import edgesim.rl", {"torch", "stable_baselines3"}),
    ],
)
def test_layer_does_not_import_heavier_layers(statement, forbidden):
    assert modules_loaded_by(statement) & forbidden == set()


def test_simulation_is_still_reachable_from_the_package():
    assert "simpy" in modules_loaded_by("from edgesim import Simulation")
