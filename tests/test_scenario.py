"""Scenario loading, validation with one-line errors naming the key, and overrides."""

from __future__ import annotations

import pytest
import yaml

from edgesim.scenario import (
    Scenario,
    ScenarioError,
    apply_overrides,
    load_scenario,
    load_scenario_dict,
    parse_overrides,
)


def test_default_yaml_writes_out_every_default(scenarios_dir):
    written = yaml.safe_load((scenarios_dir / "default.yaml").read_text())
    assert load_scenario_dict(written).to_dict() == Scenario().to_dict()
    assert Scenario().model_dump().keys() - {"base_dir"} <= written.keys()


@pytest.mark.parametrize("name", ["default", "small", "trace", "single-server"])
def test_shipped_scenarios_are_valid(scenarios_dir, name):
    load_scenario(scenarios_dir / f"{name}.yaml")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"devices": {"colour": 1}}, "devices.colour: unknown key"),
        ({"devices": {"count": "many"}}, "devices.count:"),
        ({"devices": {"input_mbit": [-1, 2]}}, "devices.input_mbit.0:"),
        ({"devices": {"arrival": {"rate_per_s": 0}}}, "devices.arrival.rate_per_s:"),
        ({"devices": {"deadline_s": [20, 5]}}, "devices.deadline_s: low end 20 exceeds"),
        ({"servers": {"gpu": {"min_ghz": 2.0}}}, "servers.gpu: low end 2 exceeds high end 1.41"),
        ({"scheduler": {"policy": "clairvoyant"}}, "scheduler.policy: unknown policy"),
        ({"scheduler": {"dvfs": "turbo"}}, "scheduler.dvfs:"),
        ({"duration_s": float("nan")}, "duration_s: must be a finite number"),
        (
            {"devices": {"arrival": {"process": "trace", "trace": {"path": "nowhere.csv"}}}},
            "devices.arrival.trace.path: no such file",
        ),
        ({"devices": {"arrival": {"process": "trace"}}}, "devices.arrival: process 'trace'"),
    ],
)
def test_invalid_scenario_gives_one_line_naming_the_key(data, message):
    with pytest.raises(ScenarioError) as error:
        load_scenario_dict(data)
    text = str(error.value)
    assert message in text
    assert "\n" not in text


def test_zero_input_size_is_valid():
    scenario = load_scenario_dict({"devices": {"input_mbit": [0, 0]}})
    assert scenario.devices.input_mbit == (0.0, 0.0)


def test_overrides_set_nested_keys_parsed_as_yaml():
    overrides = parse_overrides(["devices.count=40", "scheduler.dvfs=max", "devices.images=[1]"])
    assert overrides == {"devices.count": 40, "scheduler.dvfs": "max", "devices.images": [1]}
    data = apply_overrides({"devices": {"count": 3}}, overrides)
    scenario = load_scenario_dict(data)
    assert (scenario.devices.count, scenario.scheduler.dvfs) == (40, "max")
    assert scenario.devices.images == [1]


def test_override_without_equals_sign_is_an_error():
    with pytest.raises(ScenarioError, match="expected KEY=VALUE"):
        parse_overrides(["devices.count"])


def test_override_through_a_value_is_an_error():
    with pytest.raises(ScenarioError, match=r"devices\.count: is not a section"):
        apply_overrides({"devices": {"count": 3}}, {"devices.count.x": 1})


def test_trace_path_resolves_against_the_scenario_file(scenarios_dir):
    scenario = load_scenario(scenarios_dir / "trace.yaml")
    assert scenario.trace_path() == scenarios_dir / "data" / "azure-llm-conv-2023.csv"
    assert scenario.to_dict()["devices"]["arrival"]["trace"]["path"].endswith(
        "azure-llm-conv-2023.csv"
    )


def test_missing_file_and_bad_yaml_are_one_line_errors(tmp_path):
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("devices: [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(bad)
