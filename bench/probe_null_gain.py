"""False 'gain' from the covariate baseline: gait columns of pure noise, targets with weak covariate effects.

    python bench/probe_null_gain.py [--subjects 500] [--targets 8] [--gait 40] [--seeds 15] [--data-seed 0]

Prints ONE JSON object: per target the out-of-fold within-fold Pearson r (mean over seeds) of the
covariates-only model fitted two ways -- ridge over the paper's alpha grid (``penalized``) and OLS, the
fit the gait+covariates model gives its covariates (``ols``) -- and of gait+covariates (``full``), with
the one-sided Wilcoxon p-values over seeds of full minus each baseline. The gait columns carry nothing,
so any systematic 'gain' is an artefact of the baseline (docs/probes.md, "Covariates unpenalized").
Data: 4 correlated covariates (age, BMI, VAT ~ 0.6 BMI + 0.3 age, height), y = 0.15 age + 0.2 BMI + noise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, default=500)
    ap.add_argument("--targets", type=int, default=8)
    ap.add_argument("--gait", type=int, default=40, help="number of pure-noise gait columns")
    ap.add_argument("--seeds", type=int, default=15)
    ap.add_argument("--data-seed", type=int, default=0)
    args = ap.parse_args(argv)

    from gaitcore.probe.analysis import UNPENALIZED_ALPHAS
    from gaitcore.probe.cv import ALPHAS, make_folds, nested_cv
    from gaitcore.probe.gain import wilcoxon_greater
    from gaitcore.probe.metrics import score_panel

    rng = np.random.default_rng(args.data_seed)
    n, T = args.subjects, args.targets
    age, bmi, height = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    vat = 0.6 * bmi + 0.3 * age + 0.7 * rng.normal(size=n)
    C = np.column_stack([age, bmi, vat, height])
    Y = np.column_stack([0.15 * age + 0.2 * bmi + rng.normal(size=n) for _ in range(T)])
    X = rng.normal(size=(n, args.gait))
    groups = np.arange(n)

    def r_by_seed(res) -> np.ndarray:  # [seeds, T]
        return np.array([score_panel(Y, res.oof[i].astype(float), np.zeros(T, bool),
                                     make_folds(groups, s, 5, 4).outer)["r"] for i, s in enumerate(res.seeds)])

    pen = r_by_seed(nested_cv(C, Y, groups, seeds=args.seeds, alphas=ALPHAS))
    ols = r_by_seed(nested_cv(C, Y, groups, seeds=args.seeds, alphas=UNPENALIZED_ALPHAS))
    full = r_by_seed(nested_cv(X, Y, groups, seeds=args.seeds, covariates=C))
    p_pen = [wilcoxon_greater(d) for d in (full - pen).T]
    p_ols = [wilcoxon_greater(d) for d in (full - ols).T]
    rnd = lambda a: [round(float(v), 4) for v in a]  # noqa: E731
    print(json.dumps({
        "subjects": n, "targets": T, "gait_columns": args.gait, "seeds": args.seeds, "data_seed": args.data_seed,
        "r_covariates_penalized": rnd(pen.mean(0)), "r_covariates_ols": rnd(ols.mean(0)), "r_full": rnd(full.mean(0)),
        "gain_vs_penalized": rnd((full - pen).mean(0)), "gain_vs_ols": rnd((full - ols).mean(0)),
        "wilcoxon_p_vs_penalized": rnd(p_pen), "wilcoxon_p_vs_ols": rnd(p_ols),
        "n_p_below_0.05_vs_penalized": int(sum(p < 0.05 for p in p_pen)),
        "n_p_below_0.05_vs_ols": int(sum(p < 0.05 for p in p_ols)),
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
