"""The demo report's alpha-time summary: the right time, the right ratios, a sentence per weak figure."""

import pytest

from glassdyn.report import alpha_summary


def _models(botan_at_alpha: float, mae: float) -> dict:
    def ev(vals, **kw):
        return {"node_pearson": {"0.8": vals}, **kw}

    return {
        "botan": ev([0.1, 0.2, botan_at_alpha, 0.9]),
        "tbotan": ev(
            [0.1, 0.2, 0.5, 0.9],
            temperature_mae_per_T={"0.8": mae},
            energy_thermometer={
                "temperature_mae_per_T": {"0.8": 0.07},
                "floor_mae_per_T": {"0.8": 0.033},
                "c_v": 1.5,
            },
        ),
        "bapst": ev([0.1, 0.2, 0.4, 0.9]),
        "ridge": ev([0.3, 0.4, 0.6, 0.1]),
    }


HET = {"temperatures": {"0.800": {"species": {"A": {"tau_alpha": 3.5}}}}}
TIMES = {"0.8": [0.05, 0.5, 4.0, 40.0]}


def test_alpha_row_uses_the_sampled_time_closest_to_tau_alpha_in_log_time():
    rows, notes = alpha_summary(_models(0.54, 0.01), HET, TIMES)
    T, t, tau, botan, tbotan, bapst, ridge, ratio, mae, energy_mae, floor = rows[0]
    assert (T, t, tau) == ("0.8", 4.0, 3.5)  # index 2, not the last time where BOTAN is best
    assert (botan, tbotan, bapst, ridge) == (0.54, 0.5, 0.4, 0.6)
    assert ratio == pytest.approx(0.9) and mae == 0.01 and energy_mae == 0.07 and floor == 0.033
    assert notes == []  # both demo targets met: nothing to explain


def test_each_weak_figure_gets_one_sentence():
    rows, notes = alpha_summary(_models(0.3, 0.05), HET, TIMES)
    assert rows[0][7] == pytest.approx(0.5)
    assert len(notes) == 2
    assert notes[0].startswith("At T=0.8 BOTAN reaches 0.50 of ridge's node Pearson (target 0.8)")
    assert notes[1].startswith(
        "At T=0.8 T-BOTAN's temperature error is 0.050 (target 0.02), against 0.070 for a "
        "thermometer linear in the potential energy and 0.033 expected of the best unbiased "
        "reading of one configuration of this size (Cramer-Rao"
    )
    assert "c_v = 1.50)" in notes[1] and notes[1].endswith("below what one configuration can tell.")
    assert all(n.count(". ") == 0 and n.endswith(".") for n in notes)  # one sentence each


def test_a_temperature_error_far_above_the_floor_says_the_read_out_has_not_learned():
    _, notes = alpha_summary(_models(0.9, 0.08), HET, TIMES)
    assert len(notes) == 1 and "could reach 0.033" in notes[0]
    assert notes[0].endswith(
        "has not learned the temperature from these few training configurations."
    )
    models = _models(0.9, 0.05)
    del models["tbotan"][
        "energy_thermometer"
    ]  # no energies (an imported store): the general reason
    _, notes = alpha_summary(models, HET, TIMES)
    assert notes[0].startswith(
        "At T=0.8 T-BOTAN's temperature error is 0.050 (target 0.02), because"
    )


# --------------------------------------------------------------------- tables of figures
def _figure_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """(header, rows) of every <table class='figures'> of a report."""
    from html.parser import HTMLParser

    class Tables(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tables, self.cell, self.inside = [], None, False

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.inside = ("class", "figures") in attrs
                if self.inside:
                    self.tables.append(([], []))
            elif self.inside and tag == "tr":
                self.row = []
            elif self.inside and tag in ("td", "th"):
                self.cell = ""

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

        def handle_endtag(self, tag):
            if not self.inside:
                return
            if tag in ("td", "th"):
                self.row.append((tag, self.cell.strip()))
                self.cell = None
            elif tag == "tr":
                header, rows = self.tables[-1]
                if all(t == "th" for t, _ in self.row):
                    header.extend(c for _, c in self.row)
                else:
                    rows.append([c for _, c in self.row])
            elif tag == "table":
                self.inside = False

    parser = Tables()
    parser.feed(text)
    return parser.tables


def assert_figures_have_counts_and_errors(text: str) -> int:
    """Every table of figures has a column counting its configurations, and every measured
    number in it carries an error bar ("±") or says "n/a"; returns how many tables."""
    import re

    tables = _figure_tables(text)
    for header, rows in tables:
        count = [i for i, h in enumerate(header) if "configurations" in h]
        assert count, f"a table of figures without its count of configurations: {header}"
        for row in rows:
            assert re.fullmatch(r"[\d ?x,]+", row[count[0]]), (header, row)
            for h, cell in zip(header, row):
                if h in ("T", "t", "at t", "model") or "configurations" in h:
                    continue
                if h == "tau_alpha" and cell != "n/a":
                    continue  # the time the row is read at (the error is in section 3)
                assert "±" in cell or cell == "n/a", f"no error bar: {h} = {cell!r} in {row}"
    return len(tables)


def _demo_outputs(out):
    """The files a demo leaves (evaluations with errors and counts, an analysis), as JSON."""
    import json

    times = [0.4, 4.0, 40.0]
    for name in ("botan", "tbotan", "ridge"):
        ev = {
            "node_pearson": {"0.64": [0.5, 0.4, 0.2], "0.8": [0.6, 0.5, 0.3]},
            "node_pearson_se": {"0.64": [0.02, 0.03, 0.05], "0.8": [0.02, 0.03, None]},
            "edge_pearson": {"0.64": [0.3, 0.2, 0.1], "0.8": [0.3, 0.2, 0.1]}
            if name != "ridge"
            else None,
            # null: JSON's NaN (one test configuration with a defined Pearson)
            "edge_pearson_se": {"0.64": [0.01, None, 0.01], "0.8": [0.01, 0.01, 0.01]},
            "configs": {"0.64": {"n": 5}, "0.8": {"n": 5}},
        }
        if name == "tbotan":
            ev["temperature_mae_per_T"] = {"0.64": 0.03, "0.8": 0.04}
        (out / "runs" / name).mkdir(parents=True)
        (out / "runs" / name / "evaluation.json").write_text(json.dumps(ev))
        history = [
            {"epoch": e, "train_loss": 1 / (e + 2), "val_loss": 1 / (e + 1.5)} for e in range(3)
        ]
        (out / "runs" / name / "history.json").write_text(json.dumps(history))
    states = [
        {"temperature": T, "n_particles": 256, "completed": 16, "n_configs": 16, "n_replicas": 8,
         "times": times}
        for T in (0.64, 0.8)
    ]  # fmt: skip
    (out / "info.json").write_text(json.dumps({"states": states}))
    het = {}
    for T, peak in (("0.640", 4.0), ("0.800", 2.0)):
        het[T] = {
            "temperature": float(T),
            "times": times,
            "n_configs": 16,
            "n_samples": 128,
            "config": {"s4_species": "total"},
            "species": {
                "A": {"tau_alpha": 10.0, "tau_alpha_err": 1.0},
                "total": {"chi4": [1.0, peak, 1.5], "chi4_err": [0.1, 0.3, 0.2]},
            },
            "s4": {
                "q": [1.05, 1.48, 1.82],
                "chi4_OZ": [None, 6.0, None],
                "chi4_OZ_err": [None, 2.0, None],
                "xi4": [None, None, None],
                "xi4_err": [None, None, None],
            },
        }
    (out / "analysis").mkdir()
    (out / "analysis" / "heterogeneity.json").write_text(json.dumps({"temperatures": het}))


def test_every_table_of_figures_has_its_count_of_configurations_and_error_bars(tmp_path):
    from glassdyn.demo import DemoConfig, DemoRun
    from glassdyn.report import write_report

    _demo_outputs(tmp_path)
    text = write_report(DemoRun(DemoConfig(out=tmp_path), [])).read_text()
    # node tables for both T, edge tables for both T, the tau_alpha summary, chi4 per T
    assert assert_figures_have_counts_and_errors(text) == 6
    assert "t = 0.4" in text and "0.50 ± 0.02" in text  # a time header, mean ± SE
    assert text.count("T-BOTAN mean |T error|") == 1  # the temperature error once, not per row
    assert "4.00 ± 0.30" in text  # the chi4 peak with its error
    assert "n/a" in text  # failed OZ fits of xi4 are n/a, never 0
    assert "cannot carry an Ornstein-Zernike extrapolation" in text  # L = 6 sigma
    assert "Weak figures" in text and "latent" not in text
    assert "training curves" in text and "Pearson vs time" in text


def test_the_table_check_fails_on_a_table_without_counts_or_errors():
    bad = (
        "<table class='figures'><thead><tr><th>model</th><th>t = 1</th></tr></thead>"
        "<tbody><tr><td>BOTAN</td><td>0.5</td></tr></tbody></table>"
    )
    with pytest.raises(AssertionError, match="count of configurations"):
        assert_figures_have_counts_and_errors(bad)
    no_error = bad.replace("<th>model</th>", "<th>model</th><th>test configurations</th>")
    no_error = no_error.replace("<td>BOTAN</td>", "<td>BOTAN</td><td>5</td>")
    with pytest.raises(AssertionError, match="no error bar"):
        assert_figures_have_counts_and_errors(no_error)


def test_parity_distribution_and_slice_map_read_the_store_and_the_predictions(tmp_path):
    """The figures that read a store and a predictions file pick the predicted time closest to
    tau_alpha and the A particles of every predicted configuration."""
    import numpy as np
    from glassdyn.data import keys
    from glassdyn.data.predictions import Predictions, write_predictions
    from glassdyn.data.store import Store

    from glassdyn import report_figures as figs
    from glassdyn.testing import write_synthetic_store

    store = tmp_path / "s.zarr"
    write_synthetic_store(store, temperatures=(0.8,), n_configs=3, n_particles=64, n_replicas=2)
    sp = Store.open(store).state(0.8)
    true = sp.read(keys.ISO_PROPENSITY, [1, 2])  # (2, K, N)
    preds = tmp_path / "p.zarr"
    write_predictions(preds, [Predictions(0.8, np.array([1, 2]), sp.times, 2 * true)])
    pairs = figs.propensity_pairs(store, preds, {"0.8": 4.0})
    pred, tru, t, n = pairs["0.8"]
    assert t == 5.0 and n == 2  # times 0.5, 5, 50: 5 is closest to 4 in log t
    n_a = int((sp.read(keys.TYPES, [1, 2]) == 0).sum())
    assert len(tru) == n_a and np.allclose(pred, 2 * tru)
    for png in (
        figs.parity(pairs),
        figs.mobility_distribution(pairs),
        figs.slice_map(store, preds, {"0.8": 4.0}),
    ):
        assert png[:4] == b"\x89PNG" and len(png) > 5000
    assert figs.parity({}) is None and figs.slice_map(store, tmp_path / "none.zarr", {}) is None
