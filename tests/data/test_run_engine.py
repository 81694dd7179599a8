"""The run engine (glassdyn.data.run_engine) on a model that is neither trainer's: the README's
plug-in example runs and resumes; the deadline, the resume policy, divergence and the choice of
the best epoch behave the same for any plug-in."""

import json
import re
from pathlib import Path

import pytest
import torch
from glassdyn.data import runs
from glassdyn.data.errors import GlassdynError, InputError
from glassdyn.data.run_engine import (
    RunFormat,
    RunRecord,
    Trainer,
    TrainingState,
    keep_best,
    open_run,
    read_history,
    run_epochs,
)

README = Path(__file__).resolve().parents[2] / "README.md"
FMT = RunFormat(command="test fit")


def _readme_example() -> str:
    text = README.read_text()
    section = text[text.index("## Adding a model: the run engine") :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readme_plug_in_trains_resumes_and_evaluates(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_readme_example(), "README.md", "exec"), {"__name__": "readme"})  # noqa: S102
    out = capsys.readouterr()
    best_epoch, n_records, slope = out.out.split()
    run = tmp_path / "out" / "runs" / "line"
    assert f"fit_line: resuming {Path('out/runs/line')} after epoch 19" in out.err
    hist = read_history(run)
    assert int(n_records) == 40 and [r["epoch"] for r in hist] == list(range(40))
    assert abs(float(slope) - 3.0) < 0.2  # it really learnt the line
    vals = [r["val_loss"] for r in hist]
    assert int(best_epoch) == max(i for i, v in enumerate(vals) if v == min(vals))
    info = json.loads((run / "run.json").read_text())
    assert info["kind"] == "line" and info["config"]["epochs"] == 40  # rewritten on resume


class Noisy(Trainer):
    """A linear model on noisy data; its batches drawn from the epoch alone."""

    lr = 0.02

    def __init__(self, validation: bool = True, lr: float = 0.02):
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(40, 3, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(40, generator=g)
        self.validation, self.lr = validation, lr

    def model(self):
        torch.manual_seed(0)
        return torch.nn.Linear(3, 1)

    def batches(self, state, epoch):
        return torch.randperm(32, generator=torch.Generator().manual_seed(epoch)).split(8)

    def loss(self, state, batch):
        return ((state.model(self.x[batch])[:, 0] - self.y[batch]) ** 2).mean()

    def validate(self, state):
        if not self.validation:
            return None
        with torch.no_grad():
            return {"val_loss": float(((state.model(self.x[32:])[:, 0] - self.y[32:]) ** 2).mean())}


def _fit(out, epochs, trainer=None, **kw):
    trainer = trainer or Noisy()
    with open_run(out, FMT, RunRecord("noisy", {"lr": trainer.lr, "epochs": epochs})):
        return run_epochs(out, trainer, FMT, epochs=epochs, progress=False, **kw)


def _timeless(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


def test_max_minutes_stops_after_an_epoch_and_the_rerun_continues_exactly(tmp_path):
    full = _fit(tmp_path / "full", 4)
    lines = []
    part = _fit(tmp_path / "part", 4, max_minutes=1e-9, log=lines.append)
    assert part.epoch == 1 and len(read_history(tmp_path / "part")) == 1
    stop = "test fit: stopped after epoch 1 of 4 (--max-minutes 1e-09); rerun the same command"
    assert lines == [stop + " to continue"]
    again = _fit(tmp_path / "part", 4, log=lines.append)
    assert lines[-1] == f"test fit: resuming {tmp_path / 'part'} after epoch 0"
    assert _timeless(again.history) == _timeless(full.history)
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, again.model.state_dict()[k])
    assert _fit(tmp_path / "part", 4, log=lines.append).epoch == 4  # finished: nothing to do


def test_a_rerun_with_other_settings_or_of_another_command_is_refused(tmp_path):
    _fit(tmp_path / "r", 2)
    with pytest.raises(InputError, match=r"different settings \(lr: 0.02 there, 0.05 now\)"):
        _fit(tmp_path / "r", 2, trainer=Noisy(lr=0.05))
    other = RunFormat(command="other fit", config_key="other_config")
    with (
        pytest.raises(InputError, match="run of another command, not one of `other fit`"),
        open_run(tmp_path / "r", other, RunRecord("noisy", {})),
    ):
        pass
    (tmp_path / "r" / "best.pt").unlink()  # a finished run silently doing nothing is refused
    with pytest.raises(InputError, match="has last.pt but no best.pt"):
        _fit(tmp_path / "r", 3)


def test_a_diverging_loss_is_one_clear_error_and_a_failed_first_attempt_leaves_nothing(tmp_path):
    class Diverging(Noisy):
        def loss(self, state, batch):
            return super().loss(state, batch) * float("nan")

    with pytest.raises(GlassdynError, match="the training loss became nan at epoch 0; lower --lr"):
        _fit(tmp_path / "d", 2, trainer=Diverging())
    assert not (tmp_path / "d").exists()


def test_without_validation_the_last_epoch_is_kept(tmp_path):
    state = _fit(tmp_path / "nv", 3, trainer=Noisy(validation=False))
    best = runs.load_torch(tmp_path / "nv" / "best.pt", fix="")
    assert best["epoch"] == state.best_epoch == 2 and "val_loss" not in state.history[-1]


def test_keep_best_takes_the_selection_score_and_ties_go_to_the_later_epoch():
    state = TrainingState(model=None, optimizer=None)
    assert keep_best(state, {"epoch": 0, "val_loss": 1.0, "val_select": 0.5}, validated=True)
    assert not keep_best(state, {"epoch": 1, "val_loss": 0.1, "val_select": 0.7}, validated=True)
    assert keep_best(state, {"epoch": 2, "val_loss": 2.0, "val_select": 0.5}, validated=True)
    assert (state.best, state.best_epoch, len(state.history)) == (0.5, 2, 3)


def test_the_moving_average_is_validated_kept_and_resumed(tmp_path):
    class Averaged(Noisy):
        ema = 0.9

    full = _fit(tmp_path / "full", 3, trainer=Averaged())
    _fit(tmp_path / "part", 3, trainer=Averaged(), max_minutes=1e-9, log=lambda line: None)
    part = _fit(tmp_path / "part", 3, trainer=Averaged(), log=lambda line: None)
    last = runs.load_torch(tmp_path / "full" / "last.pt", fix="")
    for k, v in full.ema.items():
        assert torch.equal(v, part.ema[k]) and torch.equal(v, last["ema_state_dict"][k])
    assert not torch.equal(full.ema["weight"], full.model.state_dict()["weight"])
    best = runs.load_torch(tmp_path / "full" / "best.pt", fix="")
    if full.best_epoch == 2:  # best.pt holds the averaged weights of its epoch
        assert torch.equal(best["state_dict"]["weight"], full.ema["weight"])
