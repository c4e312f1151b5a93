"""gaitcore: the science core of the gait platform.

What lives here: joint schemas, the session file format and importers, preprocessing, engineered gait
features, the synthetic cohort, the GaitMAE model, training loops, probes and evaluation, and the
``gaitfm`` command line.

What it may import: numpy, scipy, scikit-learn and torch -- never Django. The data layer
(``schemas``, ``sessionfile``, ``importers``, ``preprocess``, ``features``, ``synth``) imports
without torch so that the clinic uploader can use it; only the model and training modules import torch.
"""

__version__ = "0.1.0"
