"""``glassdyn demo``: the whole suite on a small dataset, ending in a report."""

from __future__ import annotations

import argparse

HELP = "simulate, train, predict, analyse and sample on a small KA dataset; writes DIR/report.html"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        default="out/demo",
        help="output folder (reruns reuse what it holds; default out/demo)",
    )
    p.add_argument(
        "--preset",
        default="tiny",
        choices=["tiny", "small", "ci"],
        help="dataset size (default tiny, a few minutes on 2 cores; ci: a few-minute check of every step, no physics)",
    )
    p.add_argument("--workers", type=int, default=2, help="simulation worker processes (default 2)")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of every step: the same seed, the same demo (default: 0)",
    )
    p.add_argument("--epochs", type=int, default=None, help="override the preset's training epochs")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from glassdyn.demo import DemoConfig, run_demo

    if args.workers < 1:
        from glassdyn.data.errors import GlassdynError

        raise GlassdynError("--workers must be at least 1")
    cfg = DemoConfig(
        out=Path(args.out),
        preset=args.preset,
        workers=args.workers,
        seed=args.seed,
        epochs=args.epochs,
    )
    result = run_demo(cfg)
    total = sum(r.seconds for r in result.results)
    failed = [r.name for r in result.results if r.status == "failed"]
    print(
        f"\n[demo] done in {total:.0f} s; report: {Path(args.out) / 'report.html'}; summary: {Path(args.out) / 'summary.json'}"
    )
    if failed:
        print(f"[demo] optional steps failed: {', '.join(failed)} (see above)")
    return 0
