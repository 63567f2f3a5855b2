"""Adversarial attacks on a fitted model: FGSM, PGD and the gradient-free SPSA, in L-inf and L2.

Every attack perturbs inputs ``x`` within the ball ``||delta||_q <= eps`` (``q`` = inf or 2) and
keeps ``x + delta`` inside the data range ``[lo, hi]`` (the training set's, :func:`data_range`).

- **FGSM** (Goodfellow et al. 2015, "Explaining and harnessing adversarial examples"): one step
  ``x + eps sign(g)`` (L-inf) or ``x + eps g / ||g||_2`` (L2), ``g`` the gradient of the model's
  training loss (`sim.models.input_gradient`).
- **PGD** (Madry et al. 2018, "Towards deep learning models resistant to adversarial attacks"):
  ``steps`` steps of size ``step_size`` along the same normalized direction, each followed by the
  projection onto the ball and the data range, on the margin ``J_t - J_y`` of the output
  currents (Carlini & Wagner 2017; it does not saturate as the cross-entropy does) toward every
  other class ``t`` in turn, keeping the best (multi-targeted, Gowal et al. 2019); the first
  restart starts at ``x``, later ones at a random point of the ball. The iterate with the largest
  margin is kept per input. On a linear model this reaches the closed-form worst case.
- **SPSA** (Uesato et al. 2018, "Adversarial risk and the dangers of evaluating against weak
  attacks"): PGD with the gradient replaced by the simultaneous-perturbation estimate
  ``mean_k (f(x + c v_k) - f(x - c v_k)) / (2c) v_k`` over Rademacher directions ``v_k``, from
  forward evaluations of the margin only. A model whose gradients are masked (flat, noisy or
  wrong, as a k-WTA code's active-set switches may make them) looks robust to PGD but not to
  SPSA; :func:`robustness_curve` reports both and their per-input worst case.

For the L2 ball with a box, projecting onto the ball and then clipping to ``[lo, hi]`` stays in
both (clipping moves every coordinate toward ``x``, which lies in the box).
"""

from __future__ import annotations

import numpy as np

from sim.errors import ValidationError
from sim.models.input_gradient import input_gradient, network_forward, network_vjp, output_margin
from sim.validation import as_generator, check_array, check_choice, check_int, check_labels, check_number

__all__ = ["NORMS", "data_range", "project", "fgsm", "pgd", "spsa", "margin", "robustness_curve", "transfer"]

NORMS = ("linf", "l2")


def data_range(X) -> tuple[float, float]:
    """``(min, max)`` over all entries of ``X`` (the training inputs): the box attacks stay in."""
    X = np.asarray(X, dtype=np.float64)
    return float(X.min()), float(X.max())


def _unit(g, norm):
    """The steepest-ascent direction of unit ``norm``-ball radius for gradient rows ``g``."""
    if norm == "linf":
        return np.sign(g)
    length = np.linalg.norm(g, axis=1, keepdims=True)
    return np.divide(g, length, out=np.zeros_like(g), where=length > 0)


def project(X_adv, X, eps: float, norm: str, lo: float = -np.inf, hi: float = np.inf) -> np.ndarray:
    """``X_adv`` moved into the ``eps``-ball around ``X`` (rows) and then into ``[lo, hi]``."""
    delta = np.asarray(X_adv, dtype=np.float64) - X
    if norm == "linf":
        delta = np.clip(delta, -eps, eps)
    else:
        length = np.linalg.norm(delta, axis=1, keepdims=True)
        delta = delta * np.minimum(1.0, eps / np.maximum(length, 1e-300))
    return np.clip(X + delta, lo, hi)


def margin(model, X, y) -> np.ndarray:
    """Margin loss ``max_{j != y} J_j - J_y`` of the model's output currents (n,), float64, from a
    forward pass only (> 0: misclassified)."""
    return output_margin(network_forward(model.network_, X)["potentials"][-1], y)


def _check(model, X, y, eps, norm, lo, hi):
    model.check_fitted()
    X = check_array("X", X, n_features=model.n_features_in_, dtype=np.float64)
    y = check_labels("y", y, model.n_classes_, n_samples=X.shape[0])
    eps = check_number("eps", eps, low=0.0)
    norm = check_choice("norm", norm, NORMS)
    lo, hi = float(lo), float(hi)
    if not lo <= hi:
        raise ValidationError("lo", lo, f"must be <= hi ({hi})")
    return X, y, eps, norm, lo, hi


def fgsm(model, X, y, eps: float, norm: str = "linf", lo: float = -np.inf, hi: float = np.inf) -> np.ndarray:
    """Fast gradient (sign) method: one step of length ``eps`` along the loss gradient.

    Parameters
    ----------
    model : fitted model of `sim.models`
    X : array_like, shape (n, n_features)
    y : array_like of int, shape (n,)
    eps : float >= 0
        Radius of the perturbation, in the units of ``X``.
    norm : {'linf', 'l2'}
    lo, hi : float
        Data range the adversarial inputs are clipped to.

    Returns
    -------
    ndarray, shape (n, n_features), float64
    """
    X, y, eps, norm, lo, hi = _check(model, X, y, eps, norm, lo, hi)
    return np.clip(X + eps * _unit(input_gradient(model, X, y), norm), lo, hi)


def _ascent(objective, X, y, eps, norm, lo, hi, steps, step_size, restarts, rng):
    """Projected ascent of the margin, ``objective(X_cur) -> (margin, direction)``; keeps the
    best iterate per input over all restarts."""
    if eps == 0:
        return X.copy()
    best, best_m = X.copy(), _margin_of(objective, X)
    for r in range(restarts):
        if r == 0 or eps == 0:
            cur = X.copy()
        else:
            noise = rng.uniform(-1, 1, X.shape) if norm == "linf" else rng.normal(size=X.shape)
            if norm == "l2":
                noise *= (rng.uniform(size=(X.shape[0], 1)) ** (1 / X.shape[1])) / np.linalg.norm(
                    noise, axis=1, keepdims=True)
            cur = project(X + eps * noise, X, eps, norm, lo, hi)
        for _ in range(steps):
            m, direction = objective(cur)
            better = m > best_m
            best[better], best_m[better] = cur[better], m[better]
            cur = project(cur + step_size * _unit(direction, norm), X, eps, norm, lo, hi)
        m = _margin_of(objective, cur)
        better = m > best_m
        best[better], best_m[better] = cur[better], m[better]
    return best


def _margin_of(objective, X):
    """The margin at ``X`` without a direction."""
    return objective(X, direction=False)[0]


def pgd(model, X, y, eps: float, norm: str = "linf", lo: float = -np.inf, hi: float = np.inf, steps: int = 20,
        step_size: float | None = None, restarts: int = 1, multi_target: bool = True, rng=None) -> np.ndarray:
    """Projected gradient descent on the margin loss (module docstring).

    Parameters
    ----------
    model, X, y, eps, norm, lo, hi
        As for :func:`fgsm`.
    steps : int >= 1
    step_size : float, optional
        Length of each step (default ``2.5 eps / steps``, Madry et al.).
    restarts : int >= 1
        Restarts after the first (which starts at ``X``) begin at a uniform point of the ball.
    multi_target : bool
        Climb ``J_t - J_y`` for every class ``t != y`` separately (all targets in one batch) and
        keep the best (the multi-targeted attack of Gowal et al. 2019): untargeted ascent of
        ``max_t J_t - J_y`` follows whichever class leads and can miss a larger gain toward
        another. False: the untargeted margin.
    rng : numpy.random.Generator, optional
        Needed when ``restarts > 1``.

    Returns
    -------
    ndarray, shape (n, n_features), float64
        Per input, the iterate of largest (untargeted) margin, inside the ball and the data range.
    """
    X, y, eps, norm, lo, hi = _check(model, X, y, eps, norm, lo, hi)
    steps, restarts = check_int("steps", steps, low=1), check_int("restarts", restarts, low=1)
    step = 2.5 * eps / steps if step_size is None else check_number("step_size", step_size, low=0.0)
    rng = as_generator(rng, "rng") if restarts > 1 else None
    n, k = X.shape[0], model.n_classes_
    if multi_target and k > 2:
        t = np.array([c for i in range(n) for c in range(k) if c != y[i]])
        rows = np.repeat(np.arange(n), k - 1)
    else:
        t, rows = None, np.arange(n)
    network = model.network_

    def objective(Z, direction=True):
        fwd = network_forward(network, Z)
        J = fwd["potentials"][-1]
        yy, idx = y[rows], np.arange(Z.shape[0])
        if t is None:
            m, other = output_margin(J, yy, return_other=True)
        else:
            m, other = J[idx, t] - J[idx, yy], t
        if not direction:
            return m, None
        g = np.zeros_like(J)
        g[idx, other] = 1.0
        g[idx, yy] -= 1.0
        return m, network_vjp(network, fwd, g)

    best = _ascent(objective, X[rows], y[rows], eps, norm, lo, hi, steps, step, restarts, rng)
    if t is None:
        return best
    m = margin(model, best, y[rows]).reshape(n, k - 1)
    return best.reshape(n, k - 1, -1)[np.arange(n), np.argmax(m, axis=1)]


def spsa(model, X, y, eps: float, norm: str = "linf", lo: float = -np.inf, hi: float = np.inf, steps: int = 20,
         step_size: float | None = None, n_samples: int = 32, delta: float | None = None, rng=None,
         chunk: int = 8192) -> np.ndarray:
    """Gradient-free PGD: the margin's gradient estimated by SPSA from forward passes only.

    Parameters
    ----------
    model, X, y, eps, norm, lo, hi, steps, step_size
        As for :func:`pgd`.
    n_samples : int >= 1
        Rademacher direction pairs per step and input.
    delta : float, optional
        Finite-difference radius ``c`` (default ``eps / 10``; in the units of ``X``).
    rng : numpy.random.Generator
        Source of the directions (required).
    chunk : int
        Rows per forward pass (bounds memory).

    Returns
    -------
    ndarray, shape (n, n_features), float64
    """
    X, y, eps, norm, lo, hi = _check(model, X, y, eps, norm, lo, hi)
    steps, K = check_int("steps", steps, low=1), check_int("n_samples", n_samples, low=1)
    step = 2.5 * eps / steps if step_size is None else check_number("step_size", step_size, low=0.0)
    c = eps / 10 if delta is None else check_number("delta", delta, low=0.0, low_open=True)
    rng = as_generator(rng, "rng")
    n, d = X.shape

    def objective(Z, direction=True):
        m = margin(model, Z, y)
        if not direction:
            return m, None
        V = rng.choice(np.array([-1.0, 1.0]), size=(n, K, d))
        probes = np.concatenate([Z[:, None] + c * V, Z[:, None] - c * V], axis=1).reshape(-1, d)
        labels = np.repeat(y, 2 * K)
        values = np.concatenate([margin(model, probes[i:i + chunk], labels[i:i + chunk])
                                 for i in range(0, probes.shape[0], chunk)]).reshape(n, 2 * K)
        diff = (values[:, :K] - values[:, K:]) / (2 * c)
        return m, np.einsum("nk,nkd->nd", diff, V) / K

    return _ascent(objective, X, y, eps, norm, lo, hi, steps, step, 1, None)


def robustness_curve(model, X, y, eps, norm: str = "linf", lo: float = -np.inf, hi: float = np.inf, *,
                     steps: int = 20, spsa_steps: int = 20, spsa_samples: int = 32, spsa_all: bool = False,
                     rng=None) -> dict:
    """Accuracy under FGSM, PGD and SPSA at each radius, and the per-input worst case.

    Parameters
    ----------
    model, X, y, norm, lo, hi
        As for :func:`fgsm`.
    eps : sequence of float >= 0
        Radii, in the units of ``X``.
    steps, spsa_steps, spsa_samples
        PGD steps; SPSA steps and direction pairs per step.
    spsa_all : bool
        Run SPSA on every input (its own accuracy ``spsa`` and ``gradient_only`` are then
        defined). False: only on the inputs that are correct and survived FGSM and PGD (the only
        ones where it can change the worst case), which is much cheaper; ``spsa`` and
        ``gradient_only`` are then NaN.
    rng : numpy.random.Generator
        Source of SPSA's directions.

    Returns
    -------
    dict
        ``eps``; per radius the accuracy (fraction, by ``model.predict`` on the adversarial inputs)
        under ``fgsm``, ``pgd`` and ``spsa``; ``worst``: the fraction of inputs that every attack
        failed on (and that are correct unperturbed), the robustness number to report;
        ``spsa_only`` / ``gradient_only``: fractions of inputs broken by SPSA but by neither gradient
        attack (a sign of gradient masking) and the reverse.
    """
    rng = as_generator(rng, "rng")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    clean = model.predict(X) == y
    out = {k: [] for k in ("eps", "fgsm", "pgd", "spsa", "worst", "spsa_only", "gradient_only")}
    for e in eps:
        e = check_number("eps", e, low=0.0)
        ok = {"fgsm": model.predict(fgsm(model, X, y, e, norm, lo, hi)) == y,
              "pgd": model.predict(pgd(model, X, y, e, norm, lo, hi, steps=steps)) == y}
        grad_ok = ok["fgsm"] & ok["pgd"]
        attacked = np.ones_like(clean) if spsa_all else clean & grad_ok
        spsa_ok = np.ones_like(clean)
        if attacked.any():
            spsa_ok[attacked] = model.predict(spsa(model, X[attacked], y[attacked], e, norm, lo, hi, steps=spsa_steps,
                                                   n_samples=spsa_samples, rng=rng)) == y[attacked]
        out["eps"].append(float(e))
        out["fgsm"].append(float(np.mean(ok["fgsm"])))
        out["pgd"].append(float(np.mean(ok["pgd"])))
        out["spsa"].append(float(np.mean(spsa_ok)) if spsa_all else float("nan"))
        out["worst"].append(float(np.mean(clean & grad_ok & spsa_ok)))
        out["spsa_only"].append(float(np.mean(clean & grad_ok & ~spsa_ok)))
        out["gradient_only"].append(float(np.mean(clean & ~grad_ok & spsa_ok)) if spsa_all else float("nan"))
    return out


def transfer(source, target, X, y, eps, norm: str = "linf", lo: float = -np.inf, hi: float = np.inf, *,
             steps: int = 20) -> list[float]:
    """Accuracy of ``target`` on PGD examples crafted on ``source`` at each radius in ``eps``."""
    return [float(np.mean(target.predict(pgd(source, X, y, e, norm, lo, hi, steps=steps)) == np.asarray(y)))
            for e in eps]
