"""Hebbian rules: plain Hebb, Oja, Sanger's generalized Hebbian algorithm and BCM.

Every rule maps the activity of one connection to a weight *direction* and never writes the
weights; the caller moves them, ``W <- W + lr * delta(pre, post, W)``. Shapes: ``pre`` is
``(batch, n_pre)``, ``post`` is ``(batch, n_post)`` and ``W`` is ``(n_post, n_pre)``. The
samples of a batch are processed in parallel with ``W`` fixed, and the direction is the MEAN of
the per-sample directions, so the learning rate does not depend on the batch size. The
direction has the dtype of ``W``.

For the rules that learn principal components (:class:`Oja`, :class:`Sanger`) ``post`` must be
the linear response ``y = pre @ W.T`` of the same ``W``; the rules use the ``post`` they are
given and do not recompute it.
"""

from __future__ import annotations

import numpy as np

from sim.errors import ValidationError
from sim.learning.rules.base import Rule
from sim.validation import check_array, check_choice, check_int, check_number

__all__ = ["LocalRule", "Fixed", "Hebb", "Oja", "Sanger", "BCM", "mean_outer"]


class LocalRule(Rule):
    """Base of the unsupervised local rules: input checks and the (empty) state interface.

    Stateless rules inherit no-op :meth:`reset`, an empty :meth:`state` and a
    :meth:`set_state` that accepts only an empty dict. Stateful rules override the three.
    """

    local = True
    needs_error = False
    name = "local"

    # ------------------------------------------------------------------ state interface
    def reset(self, n_post: int) -> None:
        """(Re)initialize internal state for ``n_post`` postsynaptic units (none here)."""

    def state(self) -> dict:
        """Internal state as a dict of arrays (copies), for save/load."""
        return {}

    def set_state(self, state: dict) -> None:
        """Restore what :meth:`state` returned."""
        if not isinstance(state, dict):
            raise ValidationError("state", state, "must be a dict from state()")
        extra = set(state) - set(self._state_keys())
        if extra:
            raise ValidationError("state", state, f"unexpected keys {sorted(extra)} for {self.name}")

    def _state_keys(self) -> tuple:
        return ()

    # ------------------------------------------------------------------ input checks
    @staticmethod
    def _check(pre, post, W, *, need_post: bool = True):
        """Return float arrays ``pre``, ``post`` (or None) and ``W`` with consistent shapes."""
        W = check_array("W", W, ndim=2)
        n_post, n_pre = W.shape
        pre = check_array("pre", pre, ndim=2, n_features=n_pre)
        if post is None:
            if need_post:
                raise ValidationError("post", post, "is required by this rule")
            return pre, None, W
        post = check_array("post", post, ndim=2, n_features=n_post)
        if post.shape[0] != pre.shape[0]:
            raise ValidationError("post", post, f"must have {pre.shape[0]} rows (the batch of pre), "
                                                f"got shape {post.shape}")
        return pre, post, W

    @staticmethod
    def _check_state_array(state: dict, key: str, n: int | None = None) -> np.ndarray:
        if key not in state:
            raise ValidationError("state", state, f"is missing key {key!r}")
        arr = check_array(f"state[{key!r}]", state[key], ndim=1, dtype=np.float64)
        if n is not None and arr.shape[0] != n:
            raise ValidationError(f"state[{key!r}]", arr, f"must have {n} entries")
        return arr.copy()


def mean_outer(post: np.ndarray, pre: np.ndarray) -> np.ndarray:
    """``<post pre^T>`` over the batch, shape (n_post, n_pre)."""
    return (post.T @ pre) / pre.shape[0]


class Fixed(LocalRule):
    """No plasticity: the weights keep their random initial values (the random-features control).

    Its direction is zero; a model asks :attr:`plastic` and skips the hidden phase altogether.
    """

    name = "none"
    hidden = True
    plastic = False

    def delta(self, pre, post, W, error=None):
        return np.zeros_like(np.asarray(W))


class Hebb(LocalRule):
    """Hebbian learning (Hebb 1949) with, by default, a row-norm-preserving projection.

    Parameters
    ----------
    normalize : {"l2", None}
        ``"l2"`` (default): remove from each row's direction its component along that row, so
        that every row's L2 norm is constant to first order in the step. ``None``: plain Hebb.

    Notes
    -----
    Plain Hebb: ``dW = <post pre^T>`` (the batch MEAN of ``post_i pre_j``). For a linear unit
    ``y = W x`` this is ``dW = W C`` with ``C = <x x^T>``: the weights grow along the principal
    eigenvector without bound (``||W_i||`` grows like ``exp(lr * lambda_max * t)``), so plain Hebb
    is unstable and needs a normalization or a bound on the weights.

    With ``normalize="l2"``::

        dW_i <- dW_i - (sum_j dW_ij W_ij / ||W_i||^2) W_i

    so ``d/dt ||W_i||^2 = 2 <dW_i, W_i> = 0``: the row norm is preserved to first order (the
    explicit step ``W + lr dW`` grows it only by ``O(lr^2)``). This is the tangent-space form of
    the normalized Hebb rule of von der Malsburg (1973) and Oja (1982); rows with zero norm keep
    the plain direction. Still local in the sense of :class:`~sim.learning.rules.base.Rule`: the extra
    term uses the unit's own row.

    Defaults. ``normalize="l2"`` because plain Hebb is unstable at every rate: its growth is
    exponential, so a fixed rate only sets how many epochs it survives (in a `HebbianNet` on
    digits, ReLU units: ``hidden_lr`` 0.1 diverges in the first epoch, 0.01 in the third, 1e-3
    survives 30 hidden epochs and diverges within 100). A normalization is what bounds Hebbian
    growth (Miller & MacKay 1994); under this multiplicative-type constraint each row converges
    to the principal eigenvector of its input correlations, so without competition the code
    slowly loses diversity: at ``default_lr = 1e-3`` (ReLU units, no inhibition) validation
    accuracy on digits is 0.96 / 0.97 / 0.92 / 0.85 after 10 / 20 / 40 / 100 epochs (half of them
    hidden), and 0.55 after 20 epochs at ``hidden_lr = 0.01``.

    References: D. O. Hebb (1949) The Organization of Behavior; C. von der Malsburg (1973)
    Kybernetik 14:85-100; E. Oja (1982) J. Math. Biol. 15:267-273; K. D. Miller & D. J. C. MacKay
    (1994) The role of constraints in Hebbian learning. Neural Computation 6:100-126.
    """

    name = "hebb"
    hidden = True
    default_lr = 1e-3

    def __init__(self, normalize="l2"):
        self.normalize = None if normalize is None else check_choice("normalize", normalize, ["l2"])

    def delta(self, pre, post, W, error=None):
        pre, post, W = self._check(pre, post, W)
        dW = mean_outer(post, pre)
        if self.normalize == "l2":
            sq = np.einsum("ij,ij->i", W, W)
            coef = np.divide(np.einsum("ij,ij->i", dW, W), sq, out=np.zeros_like(sq), where=sq > 0)
            dW = dW - coef[:, None] * W
        return dW.astype(W.dtype, copy=False)


class Oja(LocalRule):
    """Oja's rule: a Hebbian unit that normalizes itself and finds the first principal component.

    Parameters
    ----------
    mode : {"rows", "subspace"}
        ``"rows"``: every row is an independent Oja unit (Oja 1982). ``"subspace"``: Oja's
        symmetric subspace rule (Oja 1989), where each unit's decay uses the whole population.

    Notes
    -----
    Single unit (Oja 1982), with ``y = w . x``::

        dw = y (x - y w)

    ``"rows"`` applies it to each row independently, as the batch MEAN::

        dW_i = <y_i x> - <y_i^2> W_i

    For zero-mean data with covariance ``C`` the stable fixed point is ``w = +-e_1``, the unit
    principal eigenvector. With several rows and no competition every row converges to the same
    ``+-e_1``; that is expected (use :class:`Sanger` to get distinct components).

    ``"subspace"`` (Oja 1989): ``dW = <y x^T> - <y y^T> W``; the rows converge to an orthonormal
    basis of the principal subspace, not to the eigenvectors themselves.

    ``post`` must be ``y = pre @ W.T``.

    References: E. Oja (1982) J. Math. Biol. 15:267-273; E. Oja (1989) Int. J. Neural Syst.
    1:61-68.
    """

    name = "oja"
    hidden = True
    unit_norm = 2.0
    post_signal = "linear"
    default_neuron = "linear"

    def __init__(self, mode="rows"):
        self.mode = check_choice("mode", mode, ["rows", "subspace"])

    def delta(self, pre, post, W, error=None):
        pre, post, W = self._check(pre, post, W)
        hebb = mean_outer(post, pre)
        if self.mode == "rows":
            dW = hebb - np.mean(post * post, axis=0)[:, None] * W
        else:
            dW = hebb - mean_outer(post, post) @ W
        return dW.astype(W.dtype, copy=False)


class Sanger(LocalRule):
    """Sanger's generalized Hebbian algorithm (GHA): the rows become the principal components.

    Notes
    -----
    With ``y = W x`` (Sanger 1989)::

        dW = <y x^T> - LT(<y y^T>) W

    where ``LT`` keeps the lower triangle including the diagonal. Row ``i`` sees the input with
    the projections on rows ``0..i-1`` removed and does Oja's rule on it (row 0 is exactly
    :class:`Oja`), so for zero-mean data the rows converge to ``+-e_1, ..., +-e_n``, the unit
    eigenvectors of the covariance in order of decreasing eigenvalue. Batch: MEAN of the
    per-sample directions. ``post`` must be ``y = pre @ W.T``. Not strictly local: unit ``i``
    uses the outputs of units ``j < i`` (as lateral inputs).

    Reference: T. D. Sanger (1989) Neural Networks 2:459-473.
    """

    name = "sanger"
    hidden = True
    unit_norm = 2.0
    post_signal = "linear"
    default_neuron = "linear"

    def delta(self, pre, post, W, error=None):
        pre, post, W = self._check(pre, post, W)
        dW = mean_outer(post, pre) - np.tril(mean_outer(post, post)) @ W
        return dW.astype(W.dtype, copy=False)


class BCM(LocalRule):
    """Bienenstock-Cooper-Munro rule with a sliding modification threshold.

    Parameters
    ----------
    tau_theta : float >= 1
        Time constant of the threshold's running average, in calls of :meth:`delta` (one call =
        one batch presentation). ``tau_theta = 1`` sets ``theta`` to the last batch's
        ``<post^2>``. Default 10 (see Notes).
    theta0 : float >= 0
        Initial threshold of every unit (used by :meth:`reset` and on the first call).

    Attributes
    ----------
    theta : ndarray, shape (n_post,) or None
        The sliding thresholds (state; float64). ``None`` until :meth:`reset` or the first call.

    Notes
    -----
    Direction (Bienenstock, Cooper & Munro 1982), batch MEAN::

        dW = <post (post - theta) pre^T>

    with the threshold of Intrator & Cooper (1992), a running average of ``post^2``, updated
    *after* ``dW`` is computed, inside :meth:`delta`::

        theta <- theta + (<post^2>_batch - theta) / tau_theta

    Synapses are potentiated when the unit fires above ``theta`` and depressed below it; since
    ``theta`` grows with the square of the activity the weights stay bounded, and with ``K``
    equiprobable orthogonal input patterns the stable fixed points are selective: the unit
    responds (``y = K`` for unit-norm patterns and a linear unit) to one pattern only. The
    threshold must follow the activity faster than the weights change (``lr * tau_theta``
    small). Every call to :meth:`delta` advances the state: call it once per batch.

    Defaults. That condition decides them: in a `HebbianNet` on digits (pixels in [0, 1], ReLU
    units, batches of 20) runs diverge in the first epoch when ``lr * tau_theta`` is 0.3 or more
    and train when it is 0.1 or less (``tau_theta = 100``: ``hidden_lr`` 1e-3 trains, 3e-3
    diverges; ``tau_theta = 10``: up to 1e-2 trains), so ``tau_theta = 10`` with
    ``default_lr = 1e-3`` (``lr * tau_theta = 0.01``) stays a factor 10 below the largest product
    that trained (validation accuracy 0.990 / 0.983 / 0.965 for seeds 0 / 1 / 2 after 20 epochs).

    References: E. L. Bienenstock, L. N. Cooper & P. W. Munro (1982) J. Neurosci. 2:32-48;
    N. Intrator & L. N. Cooper (1992) Neural Networks 5:3-17.
    """

    name = "bcm"
    hidden = True
    default_lr = 1e-3

    def __init__(self, tau_theta: float = 10.0, theta0: float = 0.0):
        self.tau_theta = check_number("tau_theta", tau_theta, low=1.0)
        self.theta0 = check_number("theta0", theta0, low=0.0)
        self.theta: np.ndarray | None = None

    def reset(self, n_post):
        self.theta = np.full(check_int("n_post", n_post, low=1), self.theta0, dtype=np.float64)

    def state(self):
        return {} if self.theta is None else {"theta": self.theta.copy()}

    def set_state(self, state):
        super().set_state(state)
        self.theta = self._check_state_array(state, "theta") if state else None

    def _state_keys(self):
        return ("theta",)

    def delta(self, pre, post, W, error=None):
        pre, post, W = self._check(pre, post, W)
        n_post = W.shape[0]
        if self.theta is None:
            self.reset(n_post)
        elif self.theta.shape[0] != n_post:
            raise ValidationError("W", W, f"has {n_post} rows but the BCM state holds "
                                          f"{self.theta.shape[0]} thresholds; call reset(n_post)")
        dW = mean_outer(post * (post - self.theta), pre)
        self.theta = self.theta + (np.mean(np.square(post, dtype=np.float64), axis=0) - self.theta) / self.tau_theta
        return dW.astype(W.dtype, copy=False)
