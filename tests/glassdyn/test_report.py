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
