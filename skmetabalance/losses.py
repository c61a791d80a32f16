"""Loss-side balancing: re-weighted, focal and logit-adjusted losses.

Each loss is an object with scikit-learn's parameter protocol
(``get_params`` / ``set_params``, cloned at fit), passed as ``inner_loss`` or
``outer_loss`` of :class:`~skmetabalance.MetaBalanceClassifier` or as ``loss``
of :class:`~skmetabalance.BalancedNetClassifier`, or named by a string alias:

.. list-table::
   :header-rows: 1

   * - alias
     - object
     - what it changes
   * - ``"ce"``
     - :class:`CrossEntropy`
     - nothing (plain cross-entropy)
   * - ``"focal"``
     - :class:`FocalLoss`
     - down-weights rows already classified well
   * - ``"logit_adjusted"``
     - :class:`LogitAdjustedLoss`
     - adds ``tau * log(prior)`` to the logits
   * - ``"balanced_softmax"``
     - ``LogitAdjustedLoss(tau=1.0)``
     - the same at ``tau = 1``
   * - ``"ldam"``
     - :class:`LDAMLoss`
     - a margin per class
   * - ``"ldam_drw"``
     - ``LDAMLoss(class_weight=EffectiveNumber(0.9999), defer_weights=0.8)``
     - margins, then deferred class-balanced weights
   * - ``"vs"``
     - :class:`VSLoss`
     - scales and shifts the logits
   * - ``"cb"``
     - ``CrossEntropy(class_weight=EffectiveNumber())``
     - class-balanced weights

Every loss takes ``class_weight`` (None, ``'balanced'``, a dict of class labels
to weights, or :class:`EffectiveNumber`) and ``defer_weights``, which turns the
class weights on late in training (deferred re-weighting, DRW).

**Statistics come from the set each loop sees.** Class counts are the weighted
totals (``sample_weight`` counted) of the rows of the loop's own set, after its
sampler: logit adjustment on a class-balanced outer set is a no-op, on the
natural inner set it is not. Fitted estimators report them in
``class_counts_``.

**The form of each loss.** Write ``z`` for the logits, ``y`` for the true
class, ``n_c`` and ``pi_c = n_c / N`` for the counts and priors of the loop's
set. Every loss here is cross-entropy (or its focal form) on adjusted logits

    z' = scale * (a * z + c - m_y e_y),

times a class weight ``w_y``: logit adjustment sets ``c = tau log pi``, LDAM
sets the margins ``m_c`` proportional to ``n_c ** -1/4``, VS sets
``a_c = (n_c / n_max) ** gamma`` and ``c = tau log pi``. For two classes the
network has one logit ``s`` and the single-logit form is used:
``s' = scale * (a_y s + c_y)`` with ``a_y``, ``c_y`` taken from the true
class (logit adjustment: ``c_y = tau log(pi_1 / pi_0)`` for both; LDAM:
``c_1 = -m_1``, ``c_0 = +m_0``; VS: ``a_y = (n_y / n_max) ** gamma``). The
adjustments act only in training: predictions use the network's logits ``z``.

**Class weights are normalised** so that their mean over the rows of the
loop's set is 1 (``sum_c n_c w_c = N``): only their ratios matter, and a
weighted loss keeps the learning rate of an unweighted one. (PyTorch's
weighted mean divides by the sum of the weights of a batch instead; the
engine here divides by the number of rows, with weights of mean 1 over the
set.)
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator

__all__ = [
    "BaseLoss",
    "CrossEntropy",
    "FocalLoss",
    "LogitAdjustedLoss",
    "LDAMLoss",
    "VSLoss",
    "EffectiveNumber",
    "LOSS_ALIASES",
    "make_loss",
]


def _bad(owner, name, expected, value):
    return ValueError(
        f"The '{name}' parameter of {owner} must be {expected}; got {value!r}."
    )


def _check_real(owner, name, value, low=0.0, high=None, low_open=False, high_open=True):
    """A finite real number in the interval given (``high=None``: unbounded)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(float(value))
        or (float(value) <= low if low_open else float(value) < low)
        or (high is not None and (value >= high if high_open else value > high))
    ):
        left = "(" if low_open else "["
        right = "inf)" if high is None else f"{high}{')' if high_open else ']'}"
        raise _bad(owner, name, f"a finite number in {left}{low}, {right}", value)
    return float(value)


class EffectiveNumber(BaseEstimator):
    """Class-balanced weights from the effective number of rows (Cui et al., 2019).

    The weight of class ``c`` is ``(1 - beta) / (1 - beta ** n_c)``, for the
    weighted count ``n_c`` of the rows of class ``c`` in the loop's set (then
    normalised, see :mod:`skmetabalance.losses`). ``beta = 0`` weighs every
    class alike; as ``beta`` approaches 1 the weights approach inverse class
    frequencies.

    Parameters
    ----------
    beta : float, default=0.999
        In ``[0, 1)``. The paper tried 0.9, 0.99, 0.999 and 0.9999; with a few
        hundred rows per class, values below 0.99 weigh the classes nearly
        alike.

    Examples
    --------
    >>> from skmetabalance.losses import CrossEntropy, EffectiveNumber
    >>> CrossEntropy(class_weight=EffectiveNumber(beta=0.99))
    CrossEntropy(class_weight=EffectiveNumber(beta=0.99))
    """

    def __init__(self, beta=0.999):
        self.beta = beta

    def weights(self, counts):
        """Unnormalised per-class weights.

        Parameters
        ----------
        counts : array-like of shape (n_classes,)
            Weighted class counts of a loop's set.

        Returns
        -------
        weights : ndarray of shape (n_classes,)
            ``(1 - beta) / (1 - beta ** counts)``.
        """
        beta = _check_real("EffectiveNumber", "beta", self.beta, 0.0, 1.0)
        counts = np.asarray(counts, dtype=np.float64)
        if beta == 0:
            return np.ones_like(counts)
        return (1.0 - beta) / -np.expm1(counts * math.log(beta))


class BaseLoss(BaseEstimator):
    """Base class of the losses: class weights, deferred weights, validation.

    Subclasses define :meth:`_adjust` (the logit adjustment ``a``, ``c``,
    ``m``, ``scale`` and focal ``gamma`` for given class counts) and
    :meth:`_alpha` (per-class factors of their own, such as focal alpha).

    Parameters
    ----------
    class_weight : None, 'balanced', dict or EffectiveNumber, default=None
        Per-class weights of the loss. 'balanced' is ``N / (K n_c)``
        (scikit-learn's); a dict maps class labels to non-negative weights
        (classes left out weigh 1); :class:`EffectiveNumber` gives the
        class-balanced weights of Cui et al. Counts are those of the loop's
        set. Weights are normalised to mean 1 over the rows of that set.
    defer_weights : None, int or float, default=None
        Deferred re-weighting (DRW, Cao et al., 2019): train with unweighted
        loss first and switch ``class_weight`` on late. None: weights from the
        start. An int ``e``: weights from the ``e``-th epoch of a fit on
        (counting from 1). A float in (0, 1): from the epoch after that share
        of ``max_iter``. With early stopping, no member stops before the
        switch, and the patience starts afresh at it.
    """

    _ALIAS = None

    def __init__(self, *, class_weight=None, defer_weights=None):
        self.class_weight = class_weight
        self.defer_weights = defer_weights

    # ----------------------------------------------------------- validation
    def _owner(self):
        return type(self).__name__

    def _check_params(self, classes, binary):
        """Raise a ValueError naming the parameter for any invalid value."""
        owner = self._owner()
        cw = self.class_weight
        if cw is None or (isinstance(cw, str) and cw == "balanced"):
            pass
        elif isinstance(cw, EffectiveNumber):
            _check_real("EffectiveNumber", "beta", cw.beta, 0.0, 1.0)
        elif isinstance(cw, dict):
            self._check_class_dict("class_weight", cw, classes)
        else:
            raise _bad(
                owner,
                "class_weight",
                "None, 'balanced', a dict {class label: weight} or an "
                "EffectiveNumber(beta)",
                cw,
            )
        d = self.defer_weights
        if d is None:
            pass
        elif isinstance(d, Integral) and not isinstance(d, bool):
            if d < 1:
                raise _bad(
                    owner, "defer_weights", "None, an int >= 1 or a float in (0, 1)", d
                )
        elif isinstance(d, Real) and not isinstance(d, bool):
            _check_real(owner, "defer_weights", d, 0.0, 1.0, low_open=True)
        else:
            raise _bad(
                owner, "defer_weights", "None, an int >= 1 or a float in (0, 1)", d
            )
        if d is not None and cw is None:
            raise ValueError(
                f"The 'defer_weights' parameter of {owner} defers class_weight, "
                f"which is None; got defer_weights={d!r}. Set class_weight (e.g. "
                "EffectiveNumber(0.9999), as LDAM-DRW does) or defer_weights=None."
            )

    def _check_class_dict(self, name, mapping, classes):
        owner = self._owner()
        for label, weight in mapping.items():
            pos = np.searchsorted(classes, label)
            if pos >= len(classes) or classes[pos] != label:
                raise ValueError(
                    f"The '{name}' parameter of {owner} has a key {label!r} that is "
                    f"not a class label; classes are {classes.tolist()!r}."
                )
            if isinstance(weight, bool) or not (
                isinstance(weight, Real) and math.isfinite(weight) and weight >= 0
            ):
                raise ValueError(
                    f"The '{name}' parameter of {owner} must map classes to finite "
                    f"non-negative weights; got {name}[{label!r}] = {weight!r}."
                )

    @staticmethod
    def _dict_weights(mapping, classes):
        out = np.ones(len(classes))
        for label, weight in mapping.items():
            out[int(np.searchsorted(classes, label))] = float(weight)
        return out

    # ------------------------------------------------------------ the parts
    def _class_weights(self, counts, classes):
        """Unnormalised ``class_weight`` factors per class, or None."""
        cw = self.class_weight
        if cw is None:
            return None
        if isinstance(cw, str):
            return counts.sum() / (len(classes) * counts)
        if isinstance(cw, EffectiveNumber):
            return cw.weights(counts)
        return self._dict_weights(cw, classes)

    def _alpha(self, counts, classes, binary):
        """Per-class factors a loss adds to ``class_weight`` (always on), or None."""
        return None

    def _adjust(self, counts, binary):
        """``dict(a=, c=, m=, scale=, gamma=)`` of the loss for ``counts``."""
        return {}

    def _switch_epoch(self, max_iter):
        """The epoch of a fit (from 1) at which deferred weights switch on, or None."""
        d = self.defer_weights
        if d is None:
            return None
        if isinstance(d, Integral):
            return int(d)
        return int(math.floor(float(d) * max_iter)) + 1


class CrossEntropy(BaseLoss):
    """Cross-entropy (binary cross-entropy on one logit for two classes).

    With ``class_weight`` it is the class-weighted cross-entropy, and with
    ``class_weight=EffectiveNumber(beta)`` the class-balanced loss of Cui et
    al. (2019).

    Parameters
    ----------
    class_weight : None, 'balanced', dict or EffectiveNumber, default=None
        See :class:`BaseLoss`.
    defer_weights : None, int or float, default=None
        See :class:`BaseLoss`.

    Examples
    --------
    >>> from skmetabalance.losses import CrossEntropy
    >>> CrossEntropy(class_weight="balanced")
    CrossEntropy(class_weight='balanced')
    """

    def __init__(self, *, class_weight=None, defer_weights=None):
        super().__init__(class_weight=class_weight, defer_weights=defer_weights)


class FocalLoss(BaseLoss):
    """Focal loss (Lin et al., 2017): cross-entropy times ``(1 - p_t) ** gamma``.

    ``p_t`` is the probability of the true class; rows the network already
    classifies well weigh little. For two classes it is the sigmoid form.

    Parameters
    ----------
    gamma : float, default=2.0
        Focusing parameter, finite and >= 0; 0 is cross-entropy. (LDAM-DRW's
        code used 1.)
    alpha : None, float or dict, default=None
        Per-class weight of the focal loss, always on (not deferred). A float
        in [0, 1] (two classes only): weight ``alpha`` for ``classes_[1]`` and
        ``1 - alpha`` for ``classes_[0]``, as in torchvision (0.25 in
        detection, which *down*-weights the rare positives). A dict maps class
        labels to weights (classes left out weigh 1). It multiplies
        ``class_weight``; their product is normalised.
    class_weight : None, 'balanced', dict or EffectiveNumber, default=None
        See :class:`BaseLoss`.
    defer_weights : None, int or float, default=None
        See :class:`BaseLoss`.

    Examples
    --------
    >>> from skmetabalance.losses import FocalLoss
    >>> FocalLoss(gamma=1.0, alpha={1: 3.0})
    FocalLoss(alpha={1: 3.0}, gamma=1.0)
    """

    def __init__(self, gamma=2.0, alpha=None, *, class_weight=None, defer_weights=None):
        self.gamma = gamma
        self.alpha = alpha
        super().__init__(class_weight=class_weight, defer_weights=defer_weights)

    def _check_params(self, classes, binary):
        super()._check_params(classes, binary)
        _check_real("FocalLoss", "gamma", self.gamma)
        a = self.alpha
        if a is None:
            return
        if isinstance(a, dict):
            self._check_class_dict("alpha", a, classes)
        elif isinstance(a, Real) and not isinstance(a, bool):
            _check_real("FocalLoss", "alpha", a, 0.0, 1.0, high_open=False)
            if not binary:
                raise ValueError(
                    "The 'alpha' parameter of FocalLoss is a float, which weighs "
                    f"classes_[1] by alpha and classes_[0] by 1 - alpha; got "
                    f"alpha={a!r} for {len(classes)} classes. Pass a dict of "
                    "per-class weights instead."
                )
        else:
            raise _bad("FocalLoss", "alpha", "None, a float in [0, 1] or a dict", a)

    def _alpha(self, counts, classes, binary):
        a = self.alpha
        if a is None:
            return None
        if isinstance(a, dict):
            return self._dict_weights(a, classes)
        return np.array([1.0 - float(a), float(a)])

    def _adjust(self, counts, binary):
        return {"gamma": float(self.gamma)}


def _log_prior(counts):
    return np.log(counts) - np.log(counts.sum())


class LogitAdjustedLoss(BaseLoss):
    """Logit-adjusted loss (Menon et al., 2021): cross-entropy on ``z + tau log pi``.

    ``pi`` is the class prior of the loop's set. At ``tau = 1`` it is the
    balanced softmax (Ren et al., 2020). The network learns logits whose
    softmax is calibrated to a prior ``pi ** (1 - tau)`` (uniform at
    ``tau = 1``). For two classes: binary cross-entropy on
    ``s + tau log(pi_1 / pi_0)``. On a class-balanced set it changes nothing.

    Parameters
    ----------
    tau : float, default=1.0
        Strength of the adjustment, finite and >= 0; 0 is cross-entropy.
    class_weight : None, 'balanced', dict or EffectiveNumber, default=None
        See :class:`BaseLoss`.
    defer_weights : None, int or float, default=None
        See :class:`BaseLoss`.

    Examples
    --------
    >>> from skmetabalance.losses import LogitAdjustedLoss
    >>> LogitAdjustedLoss(tau=1.5)
    LogitAdjustedLoss(tau=1.5)
    """

    def __init__(self, tau=1.0, *, class_weight=None, defer_weights=None):
        self.tau = tau
        super().__init__(class_weight=class_weight, defer_weights=defer_weights)

    def _check_params(self, classes, binary):
        super()._check_params(classes, binary)
        _check_real("LogitAdjustedLoss", "tau", self.tau)

    def _adjust(self, counts, binary):
        shift = float(self.tau) * _log_prior(counts)
        if binary:
            shift = np.full(2, shift[1] - shift[0])
        return {"c": shift}

    def _prior_exponent(self):
        return float(self.tau)


class LDAMLoss(BaseLoss):
    """Label-distribution-aware margin loss (Cao et al., 2019).

    The true-class logit is lowered by a margin ``m_y`` proportional to
    ``n_y ** -1/4`` (the largest, for the rarest class, is ``max_margin``),
    and the logits are multiplied by ``scale``. For two classes: binary
    cross-entropy on ``scale * (s - m_1)`` for ``classes_[1]`` rows and
    ``scale * (s + m_0)`` for ``classes_[0]`` rows. LDAM-DRW is this loss with
    ``class_weight=EffectiveNumber(0.9999)`` and ``defer_weights`` (alias
    ``'ldam_drw'``).

    The paper pairs the loss with a normalised (cosine) last layer, whose
    logits lie in [-1, 1], and ``scale=30``. The built-in network has an
    ordinary last layer whose logits are free, so ``scale`` defaults to 1 and
    ``max_margin`` is in units of those logits; with a free last layer a
    larger ``scale`` mostly scales the margins and the last layer's effective
    learning rate.

    Parameters
    ----------
    max_margin : float, default=0.5
        Margin of the rarest class, finite and >= 0.
    scale : float, default=1.0
        Multiplier of the adjusted logits, finite and > 0.
    class_weight : None, 'balanced', dict or EffectiveNumber, default=None
        See :class:`BaseLoss`.
    defer_weights : None, int or float, default=None
        See :class:`BaseLoss`.

    Examples
    --------
    >>> from skmetabalance.losses import EffectiveNumber, LDAMLoss
    >>> LDAMLoss(class_weight=EffectiveNumber(0.9999), defer_weights=0.8)
    LDAMLoss(class_weight=EffectiveNumber(beta=0.9999), defer_weights=0.8)
    """

    def __init__(
        self, max_margin=0.5, scale=1.0, *, class_weight=None, defer_weights=None
    ):
        self.max_margin = max_margin
        self.scale = scale
        super().__init__(class_weight=class_weight, defer_weights=defer_weights)

    def _check_params(self, classes, binary):
        super()._check_params(classes, binary)
        _check_real("LDAMLoss", "max_margin", self.max_margin)
        _check_real("LDAMLoss", "scale", self.scale, low_open=True)

    def _adjust(self, counts, binary):
        margins = counts**-0.25
        margins = margins * (float(self.max_margin) / margins.max())
        out = {"scale": float(self.scale)}
        if binary:
            out["c"] = np.array([margins[0], -margins[1]])
        else:
            out["m"] = margins
        return out


class VSLoss(BaseLoss):
    """Vector-scaling loss (Kini et al., 2021): cross-entropy on ``a * z + tau log pi``.

    The multiplicative term ``a_c = (n_c / n_max) ** gamma`` shrinks the
    logits of rare classes (CDT, Ye et al., 2020), and the additive term is
    the logit adjustment. Multiplicative terms keep moving the boundary once a
    network fits every training row, where additive ones and weights stop
    mattering. For two classes: binary cross-entropy on
    ``a_y s + tau log(pi_1 / pi_0)``, ``a_y`` taken from the true class.

    Parameters
    ----------
    gamma : float, default=0.3
        Exponent of the multiplicative term, finite and >= 0.
    tau : float, default=1.0
        Strength of the additive term, finite and >= 0.
    class_weight : None, 'balanced', dict or EffectiveNumber, default=None
        See :class:`BaseLoss`.
    defer_weights : None, int or float, default=None
        See :class:`BaseLoss`.

    Examples
    --------
    >>> from skmetabalance.losses import VSLoss
    >>> VSLoss(gamma=0.2, tau=0.5)
    VSLoss(gamma=0.2, tau=0.5)
    """

    def __init__(self, gamma=0.3, tau=1.0, *, class_weight=None, defer_weights=None):
        self.gamma = gamma
        self.tau = tau
        super().__init__(class_weight=class_weight, defer_weights=defer_weights)

    def _check_params(self, classes, binary):
        super()._check_params(classes, binary)
        _check_real("VSLoss", "gamma", self.gamma)
        _check_real("VSLoss", "tau", self.tau)

    def _adjust(self, counts, binary):
        scales = (counts / counts.max()) ** float(self.gamma)
        shift = float(self.tau) * _log_prior(counts)
        if binary:
            shift = np.full(2, shift[1] - shift[0])
        return {"a": scales, "c": shift}

    def _prior_exponent(self):
        return float(self.tau)


def _ldam_drw():
    return LDAMLoss(class_weight=EffectiveNumber(0.9999), defer_weights=0.8)


#: String aliases of the loss parameters and the losses they stand for.
LOSS_ALIASES = {
    "ce": CrossEntropy,
    "focal": FocalLoss,
    "logit_adjusted": LogitAdjustedLoss,
    "balanced_softmax": lambda: LogitAdjustedLoss(tau=1.0),
    "ldam": LDAMLoss,
    "ldam_drw": _ldam_drw,
    "vs": VSLoss,
    "cb": lambda: CrossEntropy(class_weight=EffectiveNumber()),
}


def make_loss(loss):
    """A fresh loss object for an alias, or a clone of a loss object.

    Parameters
    ----------
    loss : str or BaseLoss
        A key of :data:`LOSS_ALIASES` or a loss object.

    Returns
    -------
    loss : BaseLoss
        A new object, never the one given.

    Examples
    --------
    >>> from skmetabalance.losses import make_loss
    >>> make_loss("balanced_softmax")
    LogitAdjustedLoss()
    """
    from sklearn.base import clone

    if isinstance(loss, str):
        return LOSS_ALIASES[loss]()
    return clone(loss)


# ---------------------------------------------------------------- fitted form
def _prior_exponent(loss):
    fn = getattr(loss, "_prior_exponent", None)
    return 0.0 if fn is None else fn()


class LoopLoss:
    """A loss fitted to the set(s) of one loop: per-member tables on a device.

    Built by :func:`fit_loop_loss`. ``terms(active)`` gives the tables of the
    members still training, shaped ``(n_active, C)`` (or ``(C,)`` for one
    network), for :func:`loss_rows`.
    """

    def __init__(self, gamma, scale, tables, late_weights, switch, mass, exponent):
        self.gamma = gamma
        self.scale = scale
        self.tables = tables  # name -> (M, C) tensor
        self.late_weights = late_weights  # (M, C) tensor or None
        self.switch = switch
        self.mass = mass  # (M, C) numpy: weighted class totals times final weights
        self.exponent = exponent
        self.plain = gamma == 0 and scale == 1.0 and not tables and late_weights is None
        self.n_members = mass.shape[0]

    def start_epoch(self, epoch):
        """Switch deferred weights on at their epoch; True when they switched now."""
        if self.switch is None or epoch != self.switch:
            return False
        self.tables = dict(self.tables, w=self.late_weights)
        return True

    def terms(self, active):
        """The loss's tables for the ``active`` members (None: one network)."""
        if self.plain:
            return None
        tabs = self.tables
        if active is None:
            tabs = {k: v[0] for k, v in tabs.items()}
        elif self.n_members == 1:
            # One set shared by every member.
            tabs = {k: v.expand(len(active), -1) for k, v in tabs.items()}
        elif len(active) != self.n_members:
            tabs = {k: v[list(active)] for k, v in tabs.items()}
        return LossTerms(self.gamma, self.scale, tabs)


class LossTerms:
    """What :func:`loss_rows` needs: focal gamma, logit scale and class tables."""

    __slots__ = ("gamma", "scale", "tables")

    def __init__(self, gamma, scale, tables):
        self.gamma, self.scale, self.tables = gamma, scale, tables

    def expand(self, fn):
        """The same terms with ``fn`` applied to every table."""
        return LossTerms(
            self.gamma, self.scale, {k: fn(v) for k, v in self.tables.items()}
        )


def _normalised(weights, counts):
    return weights * (counts.sum() / (weights * counts).sum())


def fit_loop_loss(
    loss, counts, classes, binary, max_iter, device, loop, dtype=torch.float32
):
    """Fit ``loss`` to the weighted class ``counts`` of one loop, one row per member.

    ``counts`` is ``(M, C)``. Raises a ValueError naming ``loop`` (the
    parameter) when the loss needs a class the loop's set lacks, or defers its
    weights past ``max_iter``.
    """
    counts = np.asarray(counts, dtype=np.float64)
    switch = loss._switch_epoch(max_iter)
    if switch is not None and switch > max_iter:
        raise ValueError(
            f"{loop}={loss!r} defers its class weights (defer_weights="
            f"{loss.defer_weights!r}) to epoch {switch}, after the last epoch of "
            f"the fit (max_iter={max_iter}), so they would never apply. Lower "
            "defer_weights or raise max_iter."
        )
    needs_all = not isinstance(loss, CrossEntropy) or loss.class_weight is not None
    if type(loss) is FocalLoss and loss.class_weight is None:
        needs_all = False
    if needs_all and (counts <= 0).any():
        m, c = np.argwhere(counts <= 0)[0]
        who = f" of ensemble member {m}" if counts.shape[0] > 1 else ""
        raise ValueError(
            f"{loop}={loss!r} needs the class counts of the set its loop sees, and "
            f"that set{who} has no rows of class {classes.tolist()[c]!r} (weighted class "
            f"counts {counts[m].tolist()}). Use a sampler that keeps every class in "
            f"this loop, or a loss without class statistics ('ce')."
        )
    tables = {name: [] for name in ("a", "c", "m", "w")}
    late, mass = [], []
    adjust = {}
    for row in counts:
        adjust = loss._adjust(row, binary)
        for name in ("a", "c", "m"):
            if name in adjust:
                tables[name].append(adjust[name])
        alpha = loss._alpha(row, classes, binary)
        cw = loss._class_weights(row, classes)
        early = None if alpha is None else _normalised(alpha, row)
        final = alpha if cw is None else (cw if alpha is None else cw * alpha)
        final = None if final is None else _normalised(final, row)
        if loss.defer_weights is None:
            early = final
        elif early is None:
            early = np.ones_like(row)
        if early is not None:
            tables["w"].append(early)
        late.append(final)
        mass.append(row if final is None else row * final)
    dev = dict(dtype=dtype, device=device)
    tensors = {
        name: torch.as_tensor(np.stack(rows), **dev)
        for name, rows in tables.items()
        if rows
    }
    late_weights = None
    if loss.defer_weights is not None:
        late_weights = torch.as_tensor(np.stack(late), **dev)
    return LoopLoss(
        gamma=float(adjust.get("gamma", 0.0)),
        scale=float(adjust.get("scale", 1.0)),
        tables=tensors,
        late_weights=late_weights,
        switch=switch,
        mass=np.stack(mass),
        exponent=_prior_exponent(loss),
    )


def trained_prior(loop_loss, counts):
    """The class prior a loop's loss trains the network's logits toward, per member.

    The loop's weighted class mass (counts times the final class weights),
    divided by ``prior ** tau`` for an additive logit adjustment; LDAM's
    margins, VS's multiplicative term and the focal factor have no prior and
    are left out.
    """
    mass = loop_loss.mass
    if loop_loss.exponent:
        prior = counts / counts.sum(axis=1, keepdims=True)
        mass = mass / prior**loop_loss.exponent
    return mass / mass.sum(axis=1, keepdims=True)


# --------------------------------------------------------------- the formula
#: Below this ``1 - p_t`` the focal factor uses the series of log(p_t) / (1 - p_t).
_FOCAL_SERIES = 1e-4


def _focal(logp_t, gamma):
    """Focal factor ``(1 - p_t) ** gamma`` and the gradient factor ``g``.

    ``g = (1 - p_t) ** gamma * (1 - gamma p_t log(p_t) / (1 - p_t))`` multiplies
    ``p - e_y`` in the gradient. Written with the ratio ``log(p_t) / (1 - p_t)``
    (-1 in the limit ``p_t -> 1``), which stays finite for ``gamma < 1``.
    """
    u = (-torch.expm1(logp_t)).clamp_min(1e-12)
    p_t = torch.exp(logp_t)
    ratio = torch.where(u > _FOCAL_SERIES, logp_t / u, -1.0 - 0.5 * u)
    factor = u**gamma
    return factor, factor * (1.0 - gamma * p_t * ratio)


def loss_rows(z, y, terms, binary, with_grad=True):
    """Per-row loss and its gradient ``d loss / d z`` per row, for any loss here.

    ``z`` is ``(..., n, n_outputs)`` and ``y`` is ``(..., n)`` (float 0/1 for one
    logit, else int64 codes); the tables of ``terms`` broadcast against
    ``(..., n_classes)`` (``(C,)`` or ``(G, 1, 1, C)``). ``terms=None`` is plain
    cross-entropy. Row weights are not applied here. Every operation is
    differentiable, so the gradient can itself be differentiated (the exact
    second-order meta step), and the loss alone can be left to autograd.
    """
    if binary:
        return _binary_rows(z, y, terms, with_grad)
    return _softmax_rows(z, y, terms, with_grad)


def _binary_rows(z, y, terms, with_grad):
    s = z[..., 0]
    if terms is None:
        per_row = F.binary_cross_entropy_with_logits(s, y, reduction="none")
        ds = (torch.sigmoid(s) - y) if with_grad else None
        return per_row, None if ds is None else ds.unsqueeze(-1)
    tabs = terms.tables

    def of_class(t):
        return t[..., 0] + (t[..., 1] - t[..., 0]) * y

    a = of_class(tabs["a"]) if "a" in tabs else None
    st = s if a is None else a * s
    if "c" in tabs:
        st = st + of_class(tabs["c"])
    if terms.scale != 1.0:
        st = st * terms.scale
    per_row = F.binary_cross_entropy_with_logits(st, y, reduction="none")
    g = None
    if terms.gamma:
        factor, g = _focal(-per_row, terms.gamma)
        per_row = factor * per_row
    w = of_class(tabs["w"]) if "w" in tabs else None
    if w is not None:
        per_row = per_row * w
    if not with_grad:
        return per_row, None
    ds = torch.sigmoid(st) - y
    for f in (g, w, a):
        if f is not None:
            ds = ds * f
    if terms.scale != 1.0:
        ds = ds * terms.scale
    return per_row, ds.unsqueeze(-1)


def _softmax_rows(z, y, terms, with_grad):
    n_classes = z.shape[-1]
    if terms is None:
        per_row = F.cross_entropy(
            z.reshape(-1, n_classes), y.reshape(-1), reduction="none"
        ).reshape(y.shape)
        if not with_grad:
            return per_row, None
        dz = torch.softmax(z, dim=-1) - F.one_hot(y, n_classes).to(z.dtype)
        return per_row, dz
    tabs = terms.tables
    # A comparison rather than F.one_hot, which torch.func.vmap cannot batch.
    onehot = (y.unsqueeze(-1) == torch.arange(n_classes, device=y.device)).to(z.dtype)
    zt = z if "a" not in tabs else z * tabs["a"]
    if "c" in tabs:
        zt = zt + tabs["c"]
    if "m" in tabs:
        zt = zt - onehot * tabs["m"]
    if terms.scale != 1.0:
        zt = zt * terms.scale
    logp = torch.log_softmax(zt, dim=-1)
    logp_t = (logp * onehot).sum(-1)
    per_row = -logp_t
    g = None
    if terms.gamma:
        factor, g = _focal(logp_t, terms.gamma)
        per_row = factor * per_row
    w = (onehot * tabs["w"]).sum(-1) if "w" in tabs else None
    if w is not None:
        per_row = per_row * w
    if not with_grad:
        return per_row, None
    dz = torch.exp(logp) - onehot
    row_factor = g if w is None else (w if g is None else g * w)
    if row_factor is not None:
        dz = dz * row_factor.unsqueeze(-1)
    if "a" in tabs:
        dz = dz * tabs["a"]
    if terms.scale != 1.0:
        dz = dz * terms.scale
    return per_row, dz
