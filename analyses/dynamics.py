"""Dynamics: how the leaky hidden population settles, and what inhibition does to its code.

From a stored Hebbian run (its learned first-layer weights and its parameters; no training):

* rates of the hidden units over time while the population settles on one test input
  (``tau dv/dt = -v + J - w sum_{j != i} r_j``, integrated finely from rest);
* the fraction of active units and the time the population needs to settle, against the
  inhibition strength ``w``, for the learned weights and for the random-features control's
  weights; the slowest mode has time constant ``tau / (1 - w)``, so the theory line is
  ``t = tau ln(1/tol) / (1 - w)``;
* the test accuracy of the stored readout when it reads the code at time ``t`` after input
  onset (``t / tau`` on the axis), with the steady-state MLP drawn as the ``tau -> 0`` limit:
  it has its answer at ``t = 0``.
"""

from __future__ import annotations

import numpy as np

from sim.models import labels
from sim.substrate import dynamics, kwta

from . import style
from .common import ModelLabels, finished_runs, group, main, open_store

__all__ = ["data", "build"]

W_GRID = np.round(np.linspace(0.0, 0.9, 10), 2)
T_GRID = np.array([0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12])  # in units of tau


def _currents(params, W, X):
    if params.get("input_bias"):
        X = np.hstack([X, np.full((X.shape[0], 1), params["input_bias"])])
    if params.get("current") == "metric":
        p = float((params.get("rule_params") or {}).get("p", 3.0))
        W = np.sign(W) * np.abs(W) ** (p - 1)
    return X @ W.T


def _inhibition(run) -> float:
    """The run's uniform inhibition of its first stage (its rule's default when unset)."""
    w = labels.settings(run["config"]["model_name"], run["config"]["params"])["w_inh"]
    return float(w[0]) if w else 0.0


def _pick(runs, task):
    by = group([r for r in runs if r["config"]["task"] == task], "model")
    hebb = [r for r in by.get(("hebbian",), []) if _inhibition(r) > 0]
    return (sorted(hebb, key=lambda r: r["config"]["seed"]) or [None])[0], by


def data(results_dir, task: str | None = None) -> dict:
    """Traces, sparsity and settle time vs inhibition, accuracy vs read-out time, and ``names``:
    the text of each curve's model on the task (from its runs' parameters)."""
    st = open_store(results_dir)
    runs = finished_runs(results_dir)
    tasks = [t for t in ("digits", "mnist1d", "bars") if any(r["config"]["task"] == t for r in runs)]
    tasks = [task] if task else tasks
    for name in tasks:
        run, by = _pick(runs, name)
        if run is not None:
            break
    else:
        return {}
    params, cfg = run["config"]["params"], run["config"]
    arrays = st.load_arrays(run["run_id"])
    t = st.task(cfg)
    X = t.X_test[arrays["probe_index"]].astype(np.float64)
    y = t.y_test[arrays["probe_index"]]
    W = arrays["W1"].astype(np.float64)
    tau, w = labels.settings(cfg["model_name"], params)["tau"], _inhibition(run)
    J = _currents(params, W, X)
    out = {"task": name, "run_id": run["run_id"], "tau": tau, "w_inh": w, "seed": cfg["seed"],
           "chance": 100.0 / t.n_classes}
    names = ModelLabels.of(results_dir, [r for rs in by.values() for r in rs])
    out["names"] = {"hebbian": names("hebbian", name), "hebbian_weights": names.model_part("hebbian", name),
                    "random_weights": names.model_part("random", name), "mlp": names("mlp", name),
                    "mlp_dynamics": (labels.axes(by[("mlp",)][0]["config"]["model_name"],
                                                 by[("mlp",)][0]["config"]["params"])["dynamics"]
                                     if by.get(("mlp",)) else None)}
    # one input settling from rest, dt = tau / 20
    res = dynamics.integrate(J[:1], neuron="relu", tau=tau, dt=tau / 20, steps=int(20 * 10 / (1 - w)),
                             w_inh=w, record=True)
    rates = np.maximum(res.trace[:, 0, :], 0)
    final = rates[-1]
    top = np.argsort(final)[::-1][:12]
    out["trace_t"] = np.arange(rates.shape[0]) / 20.0
    out["trace_top"] = rates[:, top]
    out["trace_rest_max"] = np.delete(rates, top, axis=1).max(axis=1)
    # sparsity and settle time vs inhibition, learned and random weights
    random_runs = sorted(by.get(("random",), []), key=lambda r: r["config"]["seed"])
    sources = {"hebbian": J}
    if random_runs:
        rw = st.load_arrays(random_runs[0]["run_id"])["W1"].astype(np.float64)
        sources["random"] = _currents(random_runs[0]["config"]["params"], rw, X)
    out["w_grid"] = W_GRID
    out["active"] = {}
    out["settle_time"] = {}
    sub = slice(0, 40)
    for label, cur in sources.items():
        out["active"][label] = np.array([np.mean(kwta.inhibited_fixed_point(cur, wi)[1] > 0) for wi in W_GRID])
        times = []
        for wi in W_GRID:
            r = dynamics.settle(cur[sub], neuron="relu", tau=1.0, dt=0.1, w_inh=float(wi), tol=1e-4, max_steps=5000)
            times.append(r.steps * 0.1)
        out["settle_time"][label] = np.array(times)
    # the slowest mode decays as exp(-(1 - w) t / tau): settle time scales as 1 / (1 - w)
    out["theory_time"] = out["settle_time"]["hebbian"][0] / (1 - W_GRID)
    # accuracy of the stored readout vs read-out time, if the run stored its readout
    if "readout_W" in arrays:
        steps = (T_GRID * 20).astype(int)
        res = dynamics.integrate(J, neuron="relu", tau=1.0, dt=0.05, steps=int(steps.max()), w_inh=w, record=True)
        n = float(params.get("readout_power", 1.0))
        acc = []
        for s in steps:
            R = np.maximum(res.trace[s], 0)
            F = R**n / arrays["readout_scale"]
            acc.append(float(np.mean(np.argmax(F @ arrays["readout_W"].T + arrays["readout_b"], axis=1) == y)))
        out["t_grid"], out["accuracy_vs_time"] = T_GRID, np.array(acc)
        out["accuracy_settled"] = float(np.mean(np.argmax(
            (kwta.inhibited_fixed_point(J, w)[1] ** n / arrays["readout_scale"]) @ arrays["readout_W"].T
            + arrays["readout_b"], axis=1) == y))
        mlp = [r for r in by.get(("mlp",), []) if r["config"]["seed"] == cfg["seed"]]
        out["mlp_accuracy"] = mlp[0]["evaluation"]["test_accuracy"] if mlp else None
    return out


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    d = data(results_dir)
    if not d:
        return []
    style.apply()
    panels = 4 if "accuracy_vs_time" in d else 3
    fig, grid = style.plt.subplots(2, 2, figsize=style.figsize("double", height=5.8), squeeze=False)
    axes = list(grid.ravel())
    if panels == 3:
        axes[3].set_visible(False)
    ax = axes[0]
    for i in range(d["trace_top"].shape[1]):
        ax.plot(d["trace_t"], d["trace_top"][:, i], color=style.color("hebbian"), alpha=0.35 + 0.05 * (i < 3))
    ax.plot(d["trace_t"], d["trace_rest_max"], color=style.color("random"), ls="--", label="largest of the others")
    ax.set(xlabel="time since input onset (t / tau)", ylabel="rate (a.u.)",
           title=f"Settling on one {d['task']} input (w = {d['w_inh']:g})")
    ax.legend(loc="upper right")
    ax = axes[1]
    names = d["names"]
    for label, frac in d["active"].items():
        ax.plot(d["w_grid"], 100 * frac, marker="o", color=style.color(label), label=names[f"{label}_weights"])
    ax.set(xlabel="inhibition strength w", ylabel="active units (%)", title="Sparsity of the settled code",
           yscale="log")
    ax.legend()
    ax = axes[2]
    for label, times in d["settle_time"].items():
        ax.plot(d["w_grid"], times, marker="o", color=style.color(label), label=names[f"{label}_weights"])
    ax.plot(d["w_grid"], d["theory_time"], color="black", ls=":", label="t(w = 0) / (1 - w): slowest mode")
    ax.set(xlabel="inhibition strength w", ylabel="time to settle (t / tau)", title="Settling slows as w -> 1")
    ax.legend()
    if panels == 4:
        ax = axes[3]
        ax.plot(d["t_grid"], 100 * d["accuracy_vs_time"], marker="o", color=style.color("hebbian"),
                label=f"{names['hebbian']}:\nread out at t")
        ax.axhline(100 * d["accuracy_settled"], color=style.color("hebbian"), ls=":", label="the same, settled")
        if d.get("mlp_accuracy") is not None:
            limit = " (tau -> 0)" if names["mlp_dynamics"] != "leaky" else " (settled)"
            ax.axhline(100 * d["mlp_accuracy"], color=style.color("mlp"), ls="--", label=names["mlp"] + limit)
        if 100 * np.nanmin(d["accuracy_vs_time"]) < 1.5 * d["chance"]:  # chance only where the curve nears it
            ax.axhline(d["chance"], color=style.CHANCE_COLOR, ls=(0, (1, 2)), label="chance (100 / classes)")
        ax.set(xlabel="read-out time after onset (t / tau)", ylabel="test accuracy (%)", xscale="log",
               title="Accuracy of an early read-out")
        ax.legend(loc="best")
    fig.suptitle(f"Leaky-integrator dynamics ({d['task']}, seed {d['seed']}, one stored run)")
    paths = style.save(fig, out_dir, "dynamics", formats)
    return [{"name": "dynamics", "paths": paths, "title": "Dynamics of the leaky hidden population",
             "caption": ("Left: rates of the most active hidden units while the population settles on one test "
                         "input from rest; lateral inhibition silences all but a few winners within a few tau. "
                         "Middle: the settled code's active fraction and the time to settle against the "
                         "inhibition strength w, for the learned and the random weights; settling time follows "
                         "the slowest mode, tau/(1 - w) (dotted). Right (when stored): accuracy of the trained "
                         "readout when it reads the code t after onset; the MLP is the tau -> 0 limit (chance, "
                         "100 / classes, is "
                         "drawn when the curve comes near it). Every panel is one stored run: no confidence "
                         "intervals. Look for "
                         "how early the answer is available and how strongly w trades sparsity for settling time.")}]


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__.splitlines()[0]))
