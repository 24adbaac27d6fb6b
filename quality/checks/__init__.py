"""Quality checks of synthetic samples, one module per kind of check, both modalities side by side.

``validity``, ``fidelity``, ``diversity`` and ``privacy`` hold the checks; each returns a
:class:`quality.checks.result.CheckResult`, and the ``blocking`` ones guard publication. Every threshold,
scaler, encoder and feature extractor is derived from the real train split only; the validation split serves
only as the privacy baseline. Synthetic samples are usually class-balancing ones (mostly minority classes),
so fidelity, spread and the privacy baseline compare like with like: class by class, or with the real side
reweighted to the synthetic class mix.
"""
