"""Probes: phenotype prediction from gait representations and the paper's downstream analyses.

Modules (numpy / scipy / scikit-learn / matplotlib only -- never torch: embeddings come in as tables):

* :mod:`.tables`   -- read/write the CSV/NPZ tables (embeddings, engineered features, phenotypes) and
  align them per session (median over windows, then tasks concatenated or averaged).
* :mod:`.cv`       -- nested cross-validation grouped by subject (outer 5 / inner 4 x seeds); ridge is
  solved for every alpha of the grid and every target at once from one SVD per fold; logistic
  regression for binary targets.
* :mod:`.metrics`  -- Pearson r, R2, MAE, AUC.
* :mod:`.gain`     -- predictive gain over covariates, Wilcoxon signed-rank over seeds, Benjamini-Hochberg,
  per-system summary.
* :mod:`.analysis` -- the whole probe (feature sets x strata x models) used by ``gaitfm probe``.
* :mod:`.ablation` -- body-part ablation: input variants with groups zeroed, embedding recomputation
  through a callable, importance = min-max(drop in r) + min-max(keep-only r).
* :mod:`.naive`    -- the naive baseline: per-joint position statistics of the normalised skeleton.
* :mod:`.report`   -- CSV tables, PNG figures and the HTML report.
* :mod:`.predictor` -- the production predictor artifact (JSON + NPZ coefficients, never pickles).

Method and file formats: docs/probes.md.
"""

PROBE_VERSION = "gaitcore.probe/1.0"
