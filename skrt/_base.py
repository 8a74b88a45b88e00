"""Behaviour shared by the skrt estimators, in two mixins.

:class:`TangentMixin` (every estimator): ``predict``, ``predict_tangent``,
``loss_derivative``, ``score_samples`` and the acquisition hook
``__skrt_acquisition__`` (see :mod:`skrt._acquisition`), from the
estimator's ``_validate_X``, ``_predict_raw`` and ``_tangent``.

:class:`ExactLOOMixin` (the ridge and kernel models, which keep what
``M⁻¹ = (X̃ᵀWX̃ + sP)⁻¹`` needs): choosing alpha by exact LOO or GCV,
``predict(return_std=True)``, ``loo_curve``, ``sample_information`` and
``influence_diagnostics``, and the curvature part of the acquisition, from
the per-row pieces ``_variance``, ``_sti_response``,
``_influence_coordinates`` and ``_pool_cross``.

:class:`RegularityMixin` combines both. The methods apply the per-row
pieces to row blocks of at most ``skrt._centering.BLOCK_BYTES`` (a pool is
never scored whole) and turn an overflow into a ValueError naming the input.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _influence
from ._acquisition import Acquisition, Curvature
from ._alpha_xp import choose_alpha_on_device
from ._array_api import numpy_only
from ._batch import (
    block_rows,
    check_finite,
    map_rows,
    quiet,
)
from ._dask_spectral import DaskSpectral, dask_fitted, is_dask_collection
from ._dask_spectral import dask_methods as _dask_methods
from ._dask_spectral import frame_error as _dask_frame
from ._frames import (
    FrameOutputMixin,
    diagnostics_frame,
    pandas_series,
    remembering_index,
    row_index,
)
from ._heuristics import check_heuristic, resolve_heuristic, resolve_landmarks
from ._influence_xp import influence_diagnostics as influence_diagnostics_on_device
from ._linalg import (
    default_alpha_bounds,
    gcv_path,
    leave_one_out_path,
    minimize_criterion,
)
from ._pool import make_scorer
from ._spectral_xp import SpectralXP
from .exceptions import RegularityBoundWarning


def reset_fitted(estimator):
    """Forget every attribute of an earlier fit: the public ``name_`` ones and
    the private per-fit state the class lists in ``_fit_state``, so that a
    refit with other settings (a solver that sets fewer attributes, say)
    leaves nothing stale behind."""
    private = (*getattr(type(estimator), "_fit_state", ()), "_training_index")
    for name in list(vars(estimator)):
        public_fitted = name.endswith("_") and not name.startswith("_")
        if public_fitted or name in private:
            delattr(estimator, name)


class TangentMixin(FrameOutputMixin):
    """Methods of every skrt estimator: predictions, their regularity
    tangent, the loss derivative, query scores and the acquisition hook.

    The estimator supplies ``_validate_X``, ``_predict_raw`` and
    ``_tangent`` (per-row pieces of shape (n, n_targets)), ``_y_ndim``,
    ``noise_variance_`` and ``n_samples_fit_`` (0 for a model fitted on no
    data, its prior); ``_loss_gradient`` and ``_no_decomposition_advice``
    may be overridden.
    """

    def _unravel(self, a):
        """Drop the target axis for 1-D y (an array-API array keeps a 0-d
        array where numpy gives a scalar)."""
        if self._y_ndim != 1:
            return a
        return a[0] if isinstance(a, np.ndarray) else a[0, ...]

    def predict(self, X):
        """Predict with the fitted weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            A lazy dask array, chunked like X's rows, for a dask array X.
        """
        if (device := device_view(self)) is not None:
            return device.predict(X)
        if is_dask_collection(X):  # lazy, chunk by chunk (skrt._dask_fitted)
            return _dask_methods().predict_rows(self, X, "predict")
        X = self._validate_X(X)
        return self._unravel_rows(self._rowwise(self._predict_raw, X, "The prediction"))

    def _rowwise(self, piece, X, what, name="X"):
        """A per-row piece (``_predict_raw``, ``_tangent``...) over row blocks
        of X, checked finite."""
        with quiet():
            out = map_rows(piece, X, block_rows(X, self._block_width()))
        return check_finite(out, X, name, what)

    def _unravel_rows(self, a):
        return a[:, 0] if self._y_ndim == 1 else a

    def predict_tangent(self, X):
        """Prediction tangent ``df(x)/d alpha = (x - x̄)ᵀ θ̇``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        tangent : ndarray of shape (n_samples,) or (n_samples, n_targets)
            A lazy dask array, chunked like X's rows, for a dask array X.

        Examples
        --------
        >>> import numpy as np
        >>> from skrt import RegularityRidge
        >>> rng = np.random.RandomState(0)
        >>> X, y = rng.randn(20, 3), rng.randn(20)
        >>> RegularityRidge(alpha=2.0).fit(X, y).predict_tangent(X[:4]).shape
        (4,)
        """
        if (device := device_view(self)) is not None:
            return device.predict_tangent(X)
        if is_dask_collection(X):
            return _dask_methods().predict_rows(self, X, "predict_tangent")
        X = self._validate_X(X)
        return self._unravel_rows(self._rowwise(self._tangent, X, "The tangent"))

    def _residual(self, X, y):
        """r = f(x) - y, shape (n_samples, n_targets)."""
        y = np.asarray(y, dtype=float)
        pred = self._rowwise(self._predict_raw, X, "The prediction")
        if y.ndim == 1 and pred.shape[1] == 1:
            y = y[:, None]
        if y.shape != pred.shape:
            raise ValueError(
                f"y has shape {y.shape}, but X has {X.shape[0]} rows and the "
                f"model has {pred.shape[1]} target(s)."
            )
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinity.")
        return pred - y

    def _loss_gradient(self, r):
        """dL/df at residuals r = f - y (squared loss: 2r)."""
        return 2.0 * r

    def loss_derivative(self, X, y):
        """Derivative of each point's loss with respect to alpha.

        ``dL(z)/d alpha = L'(r) (x - x̄)ᵀ θ̇`` with ``r = f(x) - y``
        (``2 r`` for the squared loss); by the
        duality of :ref:`math-tangent` it equals the change of ``‖θ*‖²``
        when the point is added to the training set with a small weight.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        derivative : ndarray of shape (n_samples,) or (n_samples, n_targets)

        Examples
        --------
        >>> import numpy as np
        >>> from skrt import RegularityRidge
        >>> rng = np.random.RandomState(0)
        >>> X, y = rng.randn(20, 3), rng.randn(20)
        >>> RegularityRidge().fit(X, y).loss_derivative(X[:2], y[:2]).shape
        (2,)
        """
        if (device := device_view(self)) is not None:
            return device.loss_derivative(X, y)
        X = self._validate_X(X)
        grad = self._loss_gradient(self._residual(X, y))
        tangent = self._rowwise(self._tangent, X, "The tangent")
        with quiet():
            out = grad * tangent
        return self._unravel_rows(check_finite(out, X, "X", "The loss derivative"))

    def score_samples(
        self, X, y=None, heuristic="sld", *, random_state=0, as_frame=None
    ):
        """How much labelling each point would teach the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Candidate points.
        y : array-like of shape (n_samples,) or (n_samples, n_targets), default=None
            Their labels, if known: then the labeled form of the heuristic is
            returned; otherwise the unlabeled form (``E[r²] = noise_variance_``).
        heuristic : {"sld", "sti", "ssi", "ssi_unlabeled", "variance", \
"pool_variance", "ivr", "variance_ivr", "pool_tangent", "cluster_distance", \
"auto"}, default="sld"
            See :ref:`math-heuristics`: squared loss derivative, squared total
            influence over the training set, sum of squared influences (and
            its doubly unlabeled form), predictive variance. ``"ssi"``,
            ``"ssi_unlabeled"`` and ``"variance"`` need ``solver`` "eigen" or
            "svd". The pool-aware ones (:ref:`math-pool`, unlabeled forms
            only) treat ``X`` as the pool: each row's score depends on the
            others. ``"auto"`` is the query default for one pick
            (:func:`skrt.query.regularity_sampling`).
        random_state : int, RandomState instance or None, default=0
            Draws the pool-aware heuristics' landmarks (200 rows of ``X``, or
            what ``"auto"`` uses); unused by the others.
        as_frame : bool, default=None
            True: return a pandas Series named ``"score"`` with ``X``'s
            index (0, 1, ... for an array); False: an ndarray; None: as
            :meth:`set_output` set (default: an ndarray).

        Returns
        -------
        scores : ndarray or pandas.Series of shape (n_samples,)
            Larger means more worth labelling; outputs are summed (one score
            per row also for several targets).

        Examples
        --------
        >>> import numpy as np
        >>> from skrt import RegularityRidge
        >>> rng = np.random.RandomState(0)
        >>> X, y = rng.randn(30, 4), rng.randn(30)
        >>> model = RegularityRidge(alpha="loo").fit(X, y)
        >>> scores = model.score_samples(rng.randn(5, 4), heuristic="variance")
        >>> scores.shape
        (5,)
        """
        if is_dask_collection(X):  # lazy, block by block (skrt._dask_fitted)
            if self._as_frame(as_frame):
                raise _dask_frame("score_samples")
            return _dask_methods().score_samples(self, X, y, heuristic, random_state)
        if (device := device_view(self)) is not None:
            if self._as_frame(as_frame):
                raise numpy_only("as_frame=True", "as_frame=False")
            return device.score_samples(X, y, heuristic, random_state)
        as_frame, index = self._as_frame(as_frame), row_index(X)
        X = self._validate_X(X)
        check_heuristic(heuristic, labeled=y is not None)
        weight = None  # the unlabeled form: E[L'(r)²] = 4σ²
        if y is not None:  # the labeled form: L'(r)² (4 r² for the squared loss)
            grad = self._loss_gradient(self._residual(X, y))
            with quiet():
                weight = grad**2
        acquisition = self.__skrt_acquisition__()
        scores = make_scorer(
            acquisition,
            X,
            resolve_heuristic(heuristic, acquisition, 1),
            n_landmarks=resolve_landmarks(None, heuristic, acquisition, 1),
            greedy=False,
            weight=weight,
            random_state=check_random_state(random_state),
        )
        what = f"The heuristic={heuristic!r} score"
        scores = check_finite(scores.scores(), X, "X", what)
        return pandas_series(scores, index, "score") if as_frame else scores

    def _no_decomposition_advice(self):
        return (
            f"needs (X̃ᵀWX̃ + sP)⁻¹, which {type(self).__name__} does not keep; "
            "use heuristic='sld' (and batch='topk' for batches)."
        )

    # -- the acquisition protocol (skrt._acquisition) ------------------------
    def _block_width(self):
        """Columns a pool row costs beyond its own in the widest intermediate
        of scoring it: a kernel model's training rows (the pool x training
        kernel) and the rank of the stored decomposition (the pool in its
        basis)."""
        width = 0
        fit = getattr(self, "X_fit_", None)
        if fit is not None:
            width += fit.shape[0]
        spec = getattr(self, "_spectral", None)
        if spec is not None:
            width += spec.lam.shape[0]
        return width

    def __skrt_acquisition__(self):
        """What this fitted model offers to score a pool.

        The one hook through which the query code (``skrt.query``,
        ``skrt.skactiveml``, ``skrt._batch.PoolScorer``) reads a model,
        public by convention like ``__sklearn_tags__``.

        Returns
        -------
        acquisition : skrt._acquisition.Acquisition
            The pool validation, the tangent response, the STI response and
            the curvature backend (``M⁻¹``) where the model keeps them (else
            None), σ² per target, the training-set size (0: fitted on no
            data) and the advice for what the model lacks.
        """
        check_is_fitted(self)
        if (device := device_view(self)) is not None:
            return device.acquisition()
        n_fit = int(self.n_samples_fit_)
        # a Dask fit's parts are bound to a copy without its training
        # references (small to send to workers); the SSI reference, computed
        # on the client, re-reads the training rows
        model = self._light_copy() if dask_fitted(self) else self
        sti, curvature, reasons = model._acquisition_parts()
        if model is not self and curvature is not None:
            curvature = replace(
                curvature, reference=lambda h: self._ssi_reference(h)[1:]
            )
        if n_fit == 0:  # no training data, so no M⁻¹ of it to condition on
            curvature = None
            reasons = {**reasons, "cross": _EMPTY_FIT_CROSS}
        return Acquisition(
            validate=model._validate_X,
            tangent=model._tangent,
            noise_variance=self.noise_variance_,
            advice=self._no_decomposition_advice(),
            sti=sti,
            curvature=curvature,
            n_samples_fit=n_fit,
            block_width=self._block_width(),
            reasons=reasons,
            family="kernel" if hasattr(self, "X_fit_") else "linear",
        )

    def _acquisition_parts(self):
        """(sti, curvature, reasons) of the acquisition: a model with the
        tangent alone has neither."""
        return None, None, {}

    def _light_copy(self):
        """The model as the per-row pieces need it on Dask workers (a
        model that keeps training rows overrides it)."""
        return self


class ExactLOOMixin:
    """Methods of the models that keep ``M⁻¹`` (RegularityRidge,
    RegularityKernelRidge): alpha by exact LOO or GCV,
    ``predict(return_std=True)``, ``loo_curve``,
    ``sample_information``, ``influence_diagnostics`` and the curvature
    part of the acquisition. Use with :class:`TangentMixin`
    (:class:`RegularityMixin` combines both).

    A subclass's ``fit`` is wrapped to remember the index of a pandas ``X``
    (``_training_index``), which the pandas outputs of
    ``sample_information`` and ``influence_diagnostics`` carry.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "fit" in vars(cls):
            cls.fit = remembering_index(vars(cls)["fit"])

    def _training_rows(self, n):
        """The index of the training DataFrame (None: 0, 1, ...)."""
        index = getattr(self, "_training_index", None)
        if index is not None and len(index) != n:  # pragma: no cover - a bug
            raise RuntimeError(f"{len(index)} training labels for {n} rows.")
        return index

    def _require_spectral(self, what):
        if getattr(self, "_spectral", None) is None:
            raise ValueError(f"{what} {self._no_decomposition_advice()}")
        return self._spectral

    def _select_alpha(
        self, criterion, bounds, constant_target, minimize=minimize_criterion
    ):
        if not isinstance(self.alpha, str):
            return self.alpha
        lo, hi = self.alpha_bounds if self.alpha_bounds is not None else bounds
        if constant_target:
            s = float(np.sqrt(lo * hi))
            warnings.warn(
                f"y is constant: every alpha gives the same model, so the "
                f"{self.alpha} criterion is flat; alpha_ set to {s:.3g}.",
                RegularityBoundWarning,
                stacklevel=4,
            )
            return s
        alpha, _, at_bound = minimize(criterion, (lo, hi))
        if at_bound is not None:
            warnings.warn(
                f"The {self.alpha} criterion is smallest at the {at_bound} bound "
                f"of alpha_bounds=({lo:.3g}, {hi:.3g}); alpha_={alpha:.3g} may "
                "not be the true optimum. Widen alpha_bounds.",
                RegularityBoundWarning,
                stacklevel=4,
            )
        return alpha

    def _no_decomposition_advice(self):
        return (
            "needs the decomposition of the training data, which "
            f"solver={self.solver_!r} does not keep; refit with "
            "solver='eigen' or solver='svd'."
        )

    def predict(self, X, return_std=False):
        """Predict, optionally with the Bayesian-ridge predictive std.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return ``sqrt(noise_variance_ * (1 + x̃ᵀ(X̃ᵀWX̃ + sP)⁻¹x̃))``,
            which is what modAL's ``max_std_sampling`` ranks by.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
        y_std : ndarray, same shape as y_pred
            Only when ``return_std`` is True. Both are lazy dask arrays,
            chunked like X's rows, for a dask array X.

        Examples
        --------
        >>> import numpy as np
        >>> from skrt import RegularityRidge
        >>> X = np.arange(10.0).reshape(-1, 1)
        >>> model = RegularityRidge(alpha=1.0).fit(X, 2 * X.ravel())
        >>> mean, std = model.predict(X[:2], return_std=True)
        >>> mean.shape, std.shape
        ((2,), (2,))
        """
        if (device := device_view(self)) is not None:
            return device.predict(X, return_std=return_std)
        if is_dask_collection(X):
            return _dask_methods().predict_rows(
                self, X, "predict", return_std=return_std
            )
        X = self._validate_X(X)
        pred = self._rowwise(self._predict_raw, X, "The prediction")
        if not return_std:
            return self._unravel_rows(pred)
        with quiet():
            var = map_rows(self._variance, X, block_rows(X, self._block_width()))
            std = np.sqrt(
                np.atleast_1d(self.noise_variance_)[None, :] * (1.0 + var[:, None])
            )
        check_finite(std, X, "X", "The predictive std")
        return self._unravel_rows(pred), self._unravel_rows(std)

    def loo_curve(self, alphas):
        """Exact leave-one-out error at each alpha, from the stored decomposition.

        The same quantity as ``loo_error_``; for unit weights it equals the
        column means of ``RidgeCV(store_cv_results=True).cv_results_``.

        Parameters
        ----------
        alphas : array-like of shape (n_alphas,)
            Positive regularities.

        Returns
        -------
        errors : ndarray of shape (n_alphas,) or (n_alphas, n_targets)

        Examples
        --------
        >>> import numpy as np
        >>> from skrt import RegularityRidge
        >>> rng = np.random.RandomState(0)
        >>> X, y = rng.randn(30, 4), rng.randn(30)
        >>> model = RegularityRidge(alpha="loo").fit(X, y)
        >>> model.loo_curve(np.logspace(-2, 2, 5)).shape
        (5,)
        """
        check_is_fitted(self)
        if (device := device_view(self)) is not None:
            return device.loo_curve(alphas)
        spec = self._require_spectral("loo_curve")
        try:
            alphas = np.asarray(alphas, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(
                f"alphas must be a 1-D array of positive floats; got {alphas!r}."
            ) from None
        if alphas.ndim > 1 or not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
            raise ValueError("alphas must be a 1-D array of positive finite floats.")
        if isinstance(spec, DaskSpectral):  # one pass over the training chunks
            out = _dask_methods().loo_curve(self, alphas)
        else:
            out = leave_one_out_path(spec, np.atleast_1d(alphas))
        return out[:, 0] if self._y_ndim == 1 else out

    def sample_information(
        self, X_val=None, *, kind="function", noise_variance=None, as_frame=None
    ):
        """Unique information each training sample carries (SUI paper).

        Exact for this model: the leave-one-out change of every sample comes
        from the stored decomposition (no refit, no loop over samples).

        Parameters
        ----------
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
            Inputs on which ``kind="function"`` compares predictions; None
            uses the training inputs. Ignored for ``kind="weights"``.
        kind : {"function", "weights"}, default="function"
            ``"function"``: F-SI, the mean squared change of the predictions on
            ``X_val`` when the sample is left out, over ``2 σ²`` (SUI eq.
            16). ``"weights"``: SI, the KL divergence between the Gaussian
            posteriors ``N(θ*, σ² A⁻¹)`` of the penalised weights with and
            without the sample (SUI eq. 5 with ``Σ = σ² A⁻¹``).
        noise_variance : float or array-like of shape (n_targets,), default=None
            ``σ²``; None uses ``noise_variance_``. It only scales the scores
            (1.0 gives the paper's unscaled form).
        as_frame : bool, default=None
            True: return a pandas Series named ``"function_information"`` or
            ``"weight_information"``, indexed like the training DataFrame
            (0, 1, ... after a fit on an array); False: an ndarray; None: as
            :meth:`set_output` set (default: an ndarray).

        Returns
        -------
        information : ndarray or pandas.Series of shape (n_samples_fit,)
            In nats; summed over targets. ``inf`` for a sample without which
            the fit is undetermined (leverage 1). Leaving out a sample removes
            one unit of its weight (all of it when ``w_i <= 1``). After a fit
            on dask arrays: a lazy dask array chunked like the training rows,
            which re-reads them (a dask ``X_val`` is read once at the call).

        Notes
        -----
        With ``e_i = m_i r_i / (1 - m_i g_i)`` (``m_i = min(w_i, 1)``,
        ``r = f - y``, ``g_i = x̃_iᵀM⁻¹x̃_i``, ``M = X̃ᵀWX̃ + sP``) the exact
        change is ``θ̃ - θ̃_(-i) = -M⁻¹x̃_i e_i``, so

        .. math::

            SI_i = \\frac{e_i^2\\,(x_i-\\bar x)^\\top A^{-1}(x_i-\\bar x)}
                {2\\sigma^2},\\qquad
            F\\text{-}SI_i = \\frac{e_i^2}{2\\sigma^2 n_{val}}
                \\sum_v (\\tilde x_v^\\top M^{-1} \\tilde x_i)^2 .

        The sum over ``v`` is ``t_iᵀ(QᵀQ)t_i`` with one rank x rank Gram of
        the validation set in the eigenbasis. For a kernel model ``x̃`` is the
        feature map and there is no intercept.

        Examples
        --------
        >>> import numpy as np
        >>> from skrt import RegularityRidge
        >>> rng = np.random.RandomState(0)
        >>> X = rng.randn(40, 3)
        >>> y = X @ [1.0, -1.0, 0.5] + 0.1 * rng.randn(40)
        >>> y[7] += 5.0  # a corrupted target
        >>> model = RegularityRidge(alpha=1.0).fit(X, y)
        >>> int(np.argmax(model.sample_information()))
        7
        """
        check_is_fitted(self)
        if (device := device_view(self)) is not None:
            if self._as_frame(as_frame):
                raise numpy_only("as_frame=True", "as_frame=False")
            return device.sample_information(X_val, kind, noise_variance)
        spec = self._require_spectral("sample_information")
        _influence.check_kind(kind)
        as_frame = self._as_frame(as_frame)
        if isinstance(spec, DaskSpectral):  # lazy, chunked like the training rows
            if as_frame:
                raise _dask_frame("sample_information")
            return _dask_methods().sample_information(self, X_val, kind, noise_variance)
        information = self._sample_information(spec, X_val, kind, noise_variance)
        if not as_frame:
            return information
        index = self._training_rows(information.shape[0])
        name = "function_information" if kind == "function" else "weight_information"
        return pandas_series(information, index, name)

    def _sample_information(self, spec, X_val, kind, noise_variance):
        sigma2 = noise_variance
        if sigma2 is None:
            sigma2 = np.atleast_1d(self.noise_variance_)
        if kind == "weights":
            return _influence.weight_information(spec, self.alpha_, sigma2)
        if X_val is None:
            Q = _influence.training_influence_coordinates(spec, self.alpha_)
        else:
            X_val = self._validate_X(X_val)
            if X_val.shape[0] == 0:
                raise ValueError("X_val has no rows.")
            Q = self._influence_coordinates(X_val, spec)
            with quiet():
                gram = Q.T @ Q  # what functional_information needs of X_val
            check_finite(gram, X_val, "X_val", "The Gram of the validation inputs")
        return _influence.functional_information(spec, self.alpha_, sigma2, Q)

    def influence_diagnostics(self, *, dfbeta=True, as_frame=None):
        """Regression diagnostics of every training sample, from exact LOO.

        Parameters
        ----------
        dfbeta : bool, default=True
            Also return DFBETA and DFBETAS, arrays of shape
            (n_samples_fit, n_coefficients); False skips them (they are the
            only outputs larger than n_samples_fit). Kernel models never
            return them (their weights live in the feature space).
        as_frame : bool, default=None
            True: return a pandas DataFrame indexed like the training
            DataFrame (0, 1, ... after a fit on an array), one column per
            1-D entry in the order below, then one per coefficient,
            ``dfbeta_intercept``, ``dfbeta_<feature>``..., and the same for
            ``dfbetas`` (features named by ``feature_names_in_``, else
            ``x0``, ``x1``...; the intercept ``(intercept)`` if a feature is
            named ``intercept``); False: the dict; None: as
            :meth:`set_output` set (default: the dict).

        Returns
        -------
        diagnostics : dict of ndarray, or pandas.DataFrame
            Keys ``residuals`` (``y - f``), ``leverage`` (``h_i``),
            ``studentized_residuals_internal``,
            ``studentized_residuals_external``, ``cooks_distance``,
            ``dffits``, ``self_influence`` (``σ_iᵀH⁻¹σ_i``),
            ``loo_noise_variance`` (``σ²_(i)``), each of shape
            (n_samples_fit,), and ``dfbeta``, ``dfbetas`` of shape
            (n_samples_fit, n_features + 1) with the intercept in column 0
            (n_features without an intercept). ``inf`` marks a sample without
            which the fit is undetermined. After a fit on dask arrays: lazy
            dask arrays chunked like the training rows, which re-read them
            (the call reads them once to find the samples whose refit RSS is
            summed directly).

        Notes
        -----
        As alpha → 0 with unit weights these are statsmodels'
        ``OLSInfluence`` quantities (with ``k`` parameters and
        ``σ² = RSS/(n - k)``). For a ridge model ``k`` is the effective
        number of parameters ``[intercept] + Σ λ/(λ+s)``, Cook's distance is
        ``Σ_j w_j (f(x_j) - f_(-i)(x_j))² / (k σ²)``, ``σ²_(i)`` is the
        refit's weighted RSS (exact) over ``Σw - k - m_i``, and DFBETAS
        divide by ``σ_(i) √diag(M⁻¹)``, ``M = X̃ᵀWX̃ + sP``. Sample weights
        count observations: leaving one out removes ``m_i = min(w_i, 1)``.
        One target only.

        Examples
        --------
        >>> import numpy as np
        >>> from skrt import RegularityRidge
        >>> rng = np.random.RandomState(0)
        >>> X = rng.randn(50, 2)
        >>> y = X @ [2.0, -1.0] + 0.3 * rng.randn(50)
        >>> y[3] += 4.0
        >>> d = RegularityRidge(alpha=1e-6).fit(X, y).influence_diagnostics()
        >>> int(np.argmax(d["cooks_distance"])), d["dfbeta"].shape
        (3, (50, 3))
        """
        check_is_fitted(self)
        spec = self._require_spectral("influence_diagnostics")
        if spec.c.shape[1] != 1:
            raise ValueError(
                "influence_diagnostics supports one target; y was fitted with "
                f"{spec.c.shape[1]} columns (fit one model per target)."
            )
        as_frame = self._as_frame(as_frame)
        if isinstance(spec, DaskSpectral):  # lazy, chunked like the training rows
            if as_frame:
                raise _dask_frame("influence_diagnostics")
            return _dask_methods().influence_diagnostics(self, dfbeta)
        basis = self._dfbeta_basis(spec) if dfbeta else None
        if isinstance(spec, SpectralXP):  # fitted on array-API arrays
            if as_frame:
                raise numpy_only("as_frame=True", "as_frame=False")
            return influence_diagnostics_on_device(spec, self.alpha_, basis)
        out = _influence.influence_diagnostics(spec, self.alpha_, basis)
        if not as_frame:
            return out
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = [f"x{j}" for j in range(self.n_features_in_)]
        index = self._training_rows(out["leverage"].shape[0])
        return diagnostics_frame(out, index, list(names))

    def _dfbeta_basis(self, spec):
        """(V, x̄) for DFBETA, or None where weights are not explicit."""
        return None

    def _training_coordinates(self, spec):
        return _influence.training_coordinates(spec)

    def _ssi_reference(self, heuristic):
        """(spec, training coordinates t, per-output weights ω): ``w r²`` for
        "ssi", ``w`` for "ssi_unlabeled"."""
        spec = self._require_spectral(f"heuristic={heuristic!r}")
        if isinstance(spec, DaskSpectral):  # T compressed: one Gram per target
            return (spec, *_dask_methods().reference(self, heuristic))
        T = self._training_coordinates(spec)
        if heuristic == "ssi_unlabeled":
            return spec, T, [spec.w]
        resid = spec.residual(self.alpha_)
        return spec, T, [spec.w * resid[:, j] ** 2 for j in range(resid.shape[1])]

    def _acquisition_parts(self):
        """The STI response and the curvature backend of the fitted model:
        variance, SSI coordinates and columns from the stored decomposition
        (``_spectral``), or columns alone by conjugate gradients (Krylov).
        A model with other sources of ``M⁻¹`` overrides it (kernel ridge:
        a Cholesky factor, a precomputed kernel)."""
        spec = getattr(self, "_spectral", None)
        variance = None if spec is None else self._variance
        return self._sti_response, self._curvature(spec, variance, self._pool_cross), {}

    def _curvature(self, spec, variance, cross):
        """The curvature backend: ``variance`` and ``cross`` as given (None
        where the model lacks them), the SSI coordinates and reference where
        the decomposition ``spec`` is kept."""
        coordinates = reference = None
        if spec is not None:

            def coordinates(X):
                return self._influence_coordinates(X, spec)

            def reference(heuristic):
                return self._ssi_reference(heuristic)[1:]

        return Curvature(cross, variance, coordinates, reference)

    def _choose_alpha(self, spec, Y):
        """alpha_ on the decomposition path: exact LOO or GCV over a continuum."""
        if isinstance(spec, SpectralXP):  # fitted on array-API arrays
            return choose_alpha_on_device(self, spec, Y)
        bounds = default_alpha_bounds(spec.lam.max(initial=0.0))
        constant = is_constant(spec.yc, Y)
        if self.alpha == "loo":

            def criterion(a):
                value, slope = leave_one_out_path(spec, a, return_derivative=True)
                return value.mean(axis=1), slope.mean(axis=1)

            return self._select_alpha(criterion, bounds, constant)
        return self._select_alpha(
            lambda a: gcv_path(spec, a).mean(axis=1), bounds, constant
        )


class RegularityMixin(ExactLOOMixin, TangentMixin):
    """Shared methods of RegularityRidge and RegularityKernelRidge: the
    tangent methods of every estimator and the exact leave-one-out ones."""


_EMPTY_FIT_CROSS = (
    "needs training data, and this model was fitted on none (it is its "
    "prior); use batch='topk'."
)


def device_view(estimator):
    """The methods of an estimator fitted on array-API arrays
    (``_device_view()``, :mod:`skrt._fitted_xp`), or None on the numpy path."""
    if isinstance(getattr(estimator, "_spectral", None), SpectralXP):
        return estimator._device_view()
    return None


def is_constant(Yc, Y):
    """Whether every centred target is zero up to round-off."""
    scale = np.abs(Y).max(initial=0.0)
    return bool(np.all(np.abs(Yc) <= 1e-12 * max(scale, 1e-300)))


class WeightsOnlyMixin:
    """Per-row pieces for models that keep θ and θ̇ but no ``M⁻¹``
    (SGDFRegressor, RegularityLasso): predictions and tangents from
    ``coef_``/``coef_tangent_``; their acquisition has the tangent only, so
    the heuristics and batches that need ``M⁻¹`` (STI, SSI, variance,
    greedy batches) raise the model's advice."""

    def _predict_raw(self, X):
        return (np.asarray(X @ self.coef_) + self.intercept_)[:, None]

    def _tangent(self, X):
        return (np.asarray(X @ self.coef_tangent_) + self.intercept_tangent_)[:, None]
