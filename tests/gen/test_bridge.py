"""Bridged bases of the transports: a base temperature the store lacks, made by NVT equilibrated
from the store's nearest temperature above, and the default that picks one when the store's own
base is too far from the target for its population to survive (N=256: 0.8 -> 0.64 is bridged at
0.72, the measured close bases 0.72 -> 0.64, 0.64 -> 0.56, 0.56 -> 0.5 are not)."""

import json

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.store import Store
from glassdyn.gen import mdpool
from glassdyn.gen.config import FitConfig
from glassdyn.gen.training import resolve_temperatures

from glassdyn.cli import main
from glassdyn.testing import write_synthetic_store

from .helpers import CHEAP, CNF, fit_args


def test_the_spread_rule_bridges_far_bases_only():
    assert mdpool.log_weight_spread(0.64, 0.8, 256) == pytest.approx(
        (1 / 0.64 - 1 / 0.8) * 0.8 * np.sqrt(256 * mdpool.HEAT_CAPACITY)
    )
    assert mdpool.bridge_temperature(0.64, 0.8, 256) == 0.72
    for T, T0 in ((0.64, 0.72), (0.56, 0.64), (0.5, 0.56)):  # the close bases measured to pass
        assert mdpool.bridge_temperature(T, T0, 256) is None
    # the spread grows as sqrt(N): at N=1000 even 0.72 is too far for 0.64
    assert mdpool.bridge_temperature(0.64, 0.72, 1000) == 0.68
    # the bridge lies strictly between the target and the store's base, at the target spread
    for T, T0, N in ((0.45, 2.0, 64), (0.64, 0.8, 4096), (0.3, 0.31, 10**6)):
        b = mdpool.bridge_temperature(T, T0, N)
        assert b is None or T < b < T0
        if b is not None:
            assert mdpool.log_weight_spread(T, b, N) <= mdpool.SPREAD_TARGET


def test_the_source_of_a_base_is_the_store_temperature_or_the_nearest_above():
    temps = [0.56, 0.64, 0.8]
    assert mdpool.base_source(temps, 0.64) == 0.64
    assert mdpool.base_source(temps, 0.72) == 0.8
    assert mdpool.base_source(temps, 0.6) == 0.64
    assert mdpool.base_source(temps, 1.2) == 0.8  # above them all: heated from the highest
    assert mdpool.bridge_warmup(0.64, 0.64, 256) == 0.0
    assert mdpool.bridge_warmup(0.72, 0.8, 256) == pytest.approx(
        mdpool.BRIDGE_TAU_ALPHAS * mdpool.tau_alpha(0.72, 256)
    )


def test_resolve_temperatures_bridges_the_default_base_and_honours_a_given_one(tmp_path):
    store = write_synthetic_store(
        tmp_path / "s.zarr", temperatures=(0.64, 0.8), n_configs=1, n_particles=256, n_replicas=1
    )
    said = []
    cfg = resolve_temperatures(store, FitConfig(model="cnf"), said.append)
    assert cfg.base_temperature == 0.72 and cfg.temperatures == (0.64,)
    assert len(said) == 1 and "base T=0.72 (MD equilibrated from the store's T=0.8)" in said[0]
    assert "--base-temperature 0.8 to use it all the same" in said[0]
    said.clear()
    cfg = resolve_temperatures(store, FitConfig(model="cnf", base_temperature=0.8), said.append)
    assert cfg.base_temperature == 0.8  # a base the user names is kept, with the warning
    assert len(said) == 1 and said[0].startswith("T=0.64 is far from the base T=0.8 (")
    assert "(`gen fit --temperatures 0.64` without --base-temperature" in said[0]
    said.clear()
    cfg = resolve_temperatures(store, FitConfig(model="flow", base_temperature=0.7), said.append)
    assert cfg.base_temperature == 0.7 and said == [
        "base T=0.7 is not a store temperature: its MD is equilibrated from T=0.8"
    ]
    # one fit for several targets: the base is bridged for the warmest, the colder far ones named
    store3 = write_synthetic_store(
        tmp_path / "s3.zarr",
        temperatures=(0.56, 0.64, 0.8),
        n_configs=1,
        n_particles=256,
        n_replicas=1,
    )
    said.clear()
    cfg = resolve_temperatures(store3, FitConfig(model="cnf"), said.append)
    assert cfg.base_temperature == 0.72 and cfg.temperatures == (0.56, 0.64)
    assert len(said) == 2 and said[1].startswith("T=0.56 is far from the base T=0.72")
    assert "(`gen fit --temperatures 0.56` without --base-temperature" in said[1]
    said.clear()
    cfg = resolve_temperatures(store3, FitConfig(model="cnf", temperatures=(0.56,)), said.append)
    assert cfg.base_temperature == 0.64 and not said  # the next temperature up is close


@pytest.mark.lammps
def test_a_default_fit_bridges_and_its_samples_start_from_the_bridged_base(
    ka_store, tmp_path, capsys
):
    """N=216, T=1.0 / 0.8: the default base is 0.91, its chains start from the store's T=1.0
    configurations (recorded, in the split) and equilibrate at 0.91 before they save anything:
    the identity's validation (mean base U / (N T)) lies between MD's e/N at 1.0 and at 0.8; gen
    sample equilibrates its own base the same way."""
    run = tmp_path / "r"
    args = fit_args(ka_store, run, CNF)
    i = args.index("--base-temperature")
    args = args[:i] + args[i + 2 :]
    args[args.index("--base-configs") + 1] = "2"  # two chains (and one for validation)
    assert main(args) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["fit_config"]["base_temperature"] == 0.91
    assert info["data"]["base_temperature"] == 0.91 and info["data"]["base_source"] == 1.0
    assert sorted(info["split"]) == ["0.8", "1"]
    store = Store.open(ka_store)
    md = {T: store.state(T).read(keys.THERMAL_ENERGY).mean() for T in (0.8, 1.0)}
    start = json.loads((run / "history.json").read_text())[0]
    e_base = start["validation"]["0.8"]["kl"] * 0.8  # the identity: mean e/N of the base pool
    assert md[0.8] < e_base < md[1.0]
    capsys.readouterr()
    out = tmp_path / "s.zarr"
    argv = ["gen", "sample", str(run), "--n", "2", "--temperature", "0.8", "--out", str(out)]
    assert main([*argv, *CHEAP, "--population", "2"]) == 0  # 2 chains, each equilibrated first
    assert "base: 2 MD configurations at T=0.91, equilibrated from T=1" in capsys.readouterr().out
    r = Store.open(out).state(0.8).attrs["sampler_report"]
    assert r["base_temperature"] == 0.91 and r["base_source"] == 1.0


@pytest.mark.lammps
def test_a_run_resumed_without_a_base_keeps_the_one_it_recorded(ka_store, cnf_run, copy_of, capsys):
    """A run fitted from the store's T=1.0 (as every run before bridged bases was) continues with
    the same command without --base-temperature, though today's default would bridge at 0.91."""
    run = copy_of(cnf_run)
    args = fit_args(ka_store, run, CNF)
    i = args.index("--base-temperature")
    args = args[:i] + args[i + 2 :]
    args[args.index("--epochs") + 1] = "2"
    assert main(args) == 0, capsys.readouterr().err
    info = json.loads((run / "run.json").read_text())
    assert info["fit_config"]["base_temperature"] == 1.0 and info["data"]["base_source"] == 1.0
    assert [h["epoch"] for h in json.loads((run / "history.json").read_text())] == [-1, 0, 1]
