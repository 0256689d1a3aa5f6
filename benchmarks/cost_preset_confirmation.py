"""Pre-registered confirmation: does the training-cost bound hold up on fresh seeds?

Fixed before the first run (this file's commit), not to be changed after
seeing results.

Question (issue 33). `benchmarks/cost_preset_study.py` compared `mnist_cpu`
as it is (`params`: `max_params` 150,000, 5 generations x 6) with a bound on
the training step's cost (`macs`: `max_params` 2,000,000 and
`max_train_macs` 15,000,000, 8 generations x 6) on seeds 0 and 1. The
`macs` arm evaluated 1.6x the candidates in 0.88x and 0.75x the wall time,
and its final generator scored 34.8 against 59.4 on seed 0 but 52.9 against
48.4 on seed 1, worse than the registered tolerance (the larger of the two
arms' final-seed stds, 3.24) by 1.2 FID, so the preset kept its parameter
bound. Two seeds cannot tell a real loss from noise; this study runs the
same two arms, unchanged, on three fresh seeds.

Arms, protocol and measures: exactly `cost_preset_study.py`'s (its
`SPACES`, `GENERATIONS`, `FINAL`, `run_search`, `run_final`; random search
with the zoo on, one worker per arm, the two arms of a seed side by side,
then the preset's final stage, top 2 x 2 seeds x 2,000 steps, EMA 0.999, on
the held-out split).

Seeds 20, 21, 22 (never used by a cost study; not the principal study's
10-19).

Decision rule (the first study's, on these seeds): `mnist_cpu` switches to
the `macs` bounds and 8 generations only if, on every one of seeds 20-22,
(a) the `macs` search took no more wall time than the `params` search, and
(b) its final FID is no worse: `macs` mean <= `params` mean + the larger of
the two arms' final-seed stds. Seed 1's failure is not forgotten: the docs
state all five seeds together, and a switch says that the rule held on 3 of
3 fresh seeds after failing on 1 of 2. Otherwise the preset stays, and the
docs report what was measured.

Each (arm, seed) is a run directory under `--runs` that resumes; each phase
writes `<runs>/<arm>_seed<s>.<phase>.json` when done, so the study runs in
parts across sessions:

    python benchmarks/cost_preset_confirmation.py --seeds 20 --runs runs/cost_confirmation
    python benchmarks/cost_preset_confirmation.py --runs runs/cost_confirmation --docs

About 80 minutes per seed on 2 CPU cores (seed 1 of the first study:
searches 3,398 s and 2,533 s side by side, then final stages 1,083 s and
1,195 s), more beside other work.

`--smoke` shrinks every budget to check the script, never for results.
Writes `benchmarks/results/cost_preset_confirmation.json` (or `--output`);
with `--docs`, the table in `docs/benchmarks.md` (between the
`cost_preset_confirmation` markers).
"""

import cost_preset_study

SEEDS = (20, 21, 22)
MARKERS = ("<!-- cost_preset_confirmation:start -->", "<!-- cost_preset_confirmation:end -->")
STUDY = dict(
    doc=__doc__,
    seeds=SEEDS,
    runs="cost_confirmation",
    result="cost_preset_confirmation",
    script=__file__,
    markers=MARKERS,
)
markdown = cost_preset_study.markdown


def decide(rows, seeds):
    """The registered rule over this study's seeds (the first study's rule)."""
    return cost_preset_study.decide(rows, seeds, SEEDS)


def main(argv=None):
    cost_preset_study.main(argv, STUDY)


if __name__ == "__main__":
    main()
