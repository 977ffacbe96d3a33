"""Scenario loading, validation with one-line errors naming the key, and overrides."""

from __future__ import annotations

import json

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


@pytest.mark.parametrize("name", ["default", "small", "trace", "single-server", "experiments/base"])
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
        ({"seed": -1}, "seed: Input should be greater than or equal to 0"),
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


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"devices": {"count": True}}, "devices.count: expected an integer, got True (bool)"),
        ({"devices": {"count": "20"}}, "devices.count: expected an integer, got the text '20'"),
        ({"devices": {"count": 20.0}}, "devices.count: expected an integer, got 20.0 (float)"),
        ({"devices": {"images": [1, 2.0]}}, "devices.images.1: expected an integer"),
        ({"scheduler": {"drop_late": "yes"}}, "scheduler.drop_late: expected true or false"),
        ({"scheduler": {"drop_late": 1}}, "scheduler.drop_late: expected true or false, got 1"),
        ({"duration_s": "3600"}, "duration_s: expected a number, got the text '3600'"),
        ({"radio": {"min_power_dbm": False}}, "radio.min_power_dbm: expected a number, got False"),
        ({"devices": {"deadline_s": ["5", 20]}}, "devices.deadline_s.0: expected a number"),
        ({"scheduler": {"policy": 3}}, "scheduler.policy: expected text, got 3 (int)"),
        ({"recording": {"servers_timeseries": "no"}}, "recording.servers_timeseries: expected"),
    ],
)
def test_wrong_types_are_rejected_not_converted(data, message):
    with pytest.raises(ScenarioError) as error:
        load_scenario_dict(data)
    assert str(error.value).startswith(message)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("duration_s=1e400", "duration_s"),
        ("duration_s=.inf", "duration_s"),
        ("devices.input_mbit=[0, 1e999]", "devices.input_mbit.1"),
        ("quality.resolution_weight={512: .nan, 768: 1.0}", "quality.resolution_weight.512"),
    ],
)
def test_non_finite_numbers_are_rejected_after_conversion(override, key):
    with pytest.raises(ScenarioError, match=f"^{key}: must be a finite number$"):
        load_scenario_dict(apply_overrides({}, parse_overrides([override])))


def test_overrides_read_exponents_without_a_dot_as_floats():
    overrides = parse_overrides(["radio.subchannel_hz=2e6", "duration_s=1E3", "devices.count=7"])
    assert overrides == {"radio.subchannel_hz": 2e6, "duration_s": 1000.0, "devices.count": 7}
    assert isinstance(overrides["radio.subchannel_hz"], float)
    scenario = load_scenario_dict(apply_overrides({}, overrides))
    assert (scenario.radio.subchannel_hz, scenario.duration_s) == (2e6, 1000.0)


def test_integers_are_accepted_where_numbers_are_expected():
    scenario = load_scenario_dict({"duration_s": 60, "devices": {"deadline_s": [5, 9]}})
    assert scenario.duration_s == 60.0 and isinstance(scenario.duration_s, float)
    assert scenario.devices.deadline_s == (5.0, 9.0)


def test_a_resolved_scenario_validates_again_after_a_trip_through_json(scenarios_dir):
    scenario = load_scenario(
        scenarios_dir / "trace.yaml", {"quality.resolution_weight": {512: 1.0, 768: 1.5}}
    )
    data = json.loads(json.dumps(scenario.to_dict()))
    assert data["quality"]["resolution_weight"] == {"512": 1.0, "768": 1.5}
    again = load_scenario_dict(data)
    assert again.to_dict() == scenario.to_dict()
    assert again.quality.resolution_weight == {512: 1.0, 768: 1.5}


def test_a_checkpoint_policy_must_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError, match=r"^scheduler\.policy: no such checkpoint: foo\.pt$"):
        load_scenario_dict({"scheduler": {"policy": "foo.pt"}})
    (tmp_path / "trained").mkdir()
    with pytest.raises(
        ScenarioError, match=r"^scheduler\.policy: folder trained holds no policy\.pt$"
    ):
        load_scenario_dict({"scheduler": {"policy": "trained"}})
    (tmp_path / "trained" / "policy.pt").write_bytes(b"")
    for policy in ("trained", "trained/policy.pt"):
        assert load_scenario_dict({"scheduler": {"policy": policy}}).scheduler.policy == policy


def _trace_scenario(tmp_path, header: str, **trace) -> dict:
    (tmp_path / "arrivals.csv").write_text(f"{header}\n1,2\n")
    settings = {"path": str(tmp_path / "arrivals.csv"), **trace}
    return {"devices": {"arrival": {"process": "trace", "trace": settings}}}


@pytest.mark.parametrize(
    ("header", "trace", "message"),
    [
        ("time,size", {}, "devices.arrival.trace.time_column: "),
        ("TIMESTAMP,size", {"size_column": "tokens"}, "devices.arrival.trace.size_column: "),
    ],
)
def test_trace_without_the_named_columns_is_invalid(tmp_path, header, trace, message):
    with pytest.raises(ScenarioError) as error:
        load_scenario_dict(_trace_scenario(tmp_path, header, **trace))
    assert str(error.value).startswith(message)
    assert "has no column" in str(error.value)


def test_trace_with_the_named_columns_is_valid(tmp_path):
    data = _trace_scenario(tmp_path, "t,tokens", time_column="t", size_column="tokens")
    scenario = load_scenario_dict(data)
    trace = scenario.devices.arrival.trace
    assert (trace.time_column, trace.size_column) == ("t", "tokens")
