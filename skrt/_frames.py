"""pandas in, pandas out: the per-sample outputs of the estimators as pandas
objects, with ``as_frame=True`` or ``set_output(transform="pandas")``.

``score_samples`` keeps the index of its ``X``; ``sample_information`` and
``influence_diagnostics`` carry the index of the training DataFrame, which
the wrapped ``fit`` of the exact leave-one-out models remembers
(:func:`remembering_index`). pandas is imported only to build a pandas
output: arrays in, arrays out, unless pandas output is asked for.
"""

from __future__ import annotations

import functools
import sys

from ._validation import check_bool

# influence_diagnostics' 1-D entries, in the DataFrame's column order
DIAGNOSTICS = (
    "residuals",
    "leverage",
    "studentized_residuals_internal",
    "studentized_residuals_external",
    "cooks_distance",
    "dffits",
    "self_influence",
    "loo_noise_variance",
)


def row_index(X):
    """The index of a pandas DataFrame or Series ``X``, else None. pandas is
    not imported: if it was not imported, ``X`` is not one."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(X, (pd.DataFrame, pd.Series)):
        return X.index
    return None


def import_pandas():
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            "as_frame=True and set_output(transform='pandas') need pandas: "
            "pip install pandas."
        ) from None
    return pd


def pandas_series(values, index, name):
    """``values`` as a Series on ``index`` (None: 0, 1, ...)."""
    return import_pandas().Series(values, index=index, name=name)


def diagnostics_frame(diagnostics, index, feature_names):
    """The dict of ``influence_diagnostics`` as a DataFrame on ``index``:
    the 1-D entries (:data:`DIAGNOSTICS`), then ``dfbeta_<coefficient>`` and
    ``dfbetas_<coefficient>`` columns (``intercept`` first where the
    arrays have one column more than ``feature_names``; ``(intercept)`` if
    a feature is named ``intercept``)."""
    columns = {key: diagnostics[key] for key in DIAGNOSTICS}
    for key in ("dfbeta", "dfbetas"):
        if key not in diagnostics:
            continue
        values = diagnostics[key]
        names = list(feature_names)
        if values.shape[1] == len(names) + 1:
            names = ["(intercept)" if "intercept" in names else "intercept", *names]
        columns.update({f"{key}_{name}": values[:, j] for j, name in enumerate(names)})
    return import_pandas().DataFrame(columns, index=index)


def remembering_index(fit):
    """``fit`` that then keeps the index of a pandas ``X`` as
    ``_training_index``, and forgets it after a fit on anything else
    (``reset_fitted`` also forgets it when a fit starts)."""

    @functools.wraps(fit)
    def fit_remembering_index(self, *args, **kwargs):
        fitted = fit(self, *args, **kwargs)
        index = row_index(args[0] if args else kwargs.get("X"))
        if index is not None:
            self._training_index = index
        else:  # also where a fit does not call reset_fitted
            vars(self).pop("_training_index", None)
        return fitted

    return fit_remembering_index


class FrameOutputMixin:
    """``set_output`` for the per-sample outputs of a regressor, and the
    ``as_frame`` switch of the methods that return them."""

    def set_output(self, *, transform=None):
        """Return the per-sample outputs as pandas objects.

        scikit-learn's ``set_output`` API, for the per-sample outputs a
        regressor has instead of ``transform``: with ``transform="pandas"``,
        ``score_samples`` returns a Series indexed like its ``X``, and
        ``sample_information`` (a Series) and ``influence_diagnostics`` (a
        DataFrame), where the model has them, are indexed like the training
        DataFrame, as with ``as_frame=True``. ``predict`` is unchanged, as
        in scikit-learn; a method's ``as_frame`` overrides this setting, and
        the global ``transform_output`` configuration does not apply.

        Parameters
        ----------
        transform : {"default", "pandas"}, default=None
            ``"pandas"``: pandas outputs; ``"default"``: arrays (and the
            dict of ``influence_diagnostics``); None: leave the setting
            unchanged.

        Returns
        -------
        self : estimator instance

        Examples
        --------
        >>> import pandas as pd
        >>> from skrt import RegularityRidge
        >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 4.0]}, index=list("abcd"))
        >>> y = [0.1, 1.2, 1.9, 4.3]
        >>> model = RegularityRidge(alpha=1.0).set_output(transform="pandas")
        >>> model.fit(X, y).sample_information().index.tolist()
        ['a', 'b', 'c', 'd']
        """
        if transform is None:
            return self
        if transform not in ("default", "pandas"):
            raise ValueError(
                "transform must be 'default', 'pandas' or None (a polars "
                f"frame has no row index to keep); got {transform!r}."
            )
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    def _as_frame(self, as_frame):
        """Whether a method returns pandas: ``as_frame`` if given, else the
        ``set_output`` setting."""
        if as_frame is None:
            config = getattr(self, "_sklearn_output_config", {})
            return config.get("transform") == "pandas"
        return check_bool(as_frame, "as_frame")
