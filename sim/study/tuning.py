"""The tuning stage of a study: batch-synchronous ask-and-tell with Optuna's TPE sampler.

A study with ``[tuning]`` (validated by `sim.study.search`) first tunes every (model, task)
pair of ``tuning["pairs"]``, then runs its ordinary runs with the chosen parameters
(`sim.study.backends.run_study` drives both)::

    [tuning]
    trials = 24          # trials of every tuned (model, task): equal budgets by construction
    batch = 4            # trials asked per round (default 4)
    startup = 10         # random trials before TPE models the results (default 10)
    metric = "val_accuracy"   # or "val_loss"; test metrics are refused
    seeds = [0, 1, 2]    # seed indices whose runs score a trial (or a count: 3); default [0]
    tasks = [...]        # default: every task; models = [...]: default every model with a space

Each pair has its own ``optuna.create_study(sampler=TPESampler(seed=...))`` in memory, seeded by
`sim.seeds.tuning_seed` of (root seed, model label, task label). A round asks ``batch`` trials
of every pair (all pairs advance together, so the backends get parallel work), runs each trial
as one ordinary run per tuning seed (`sim.study.spec.trial_specs`: ``kind = "trial"``, the trial
number in the condition, the same data split and model seed as that seed index's standard run),
then tells the values to the samplers in trial order, and asks the next round.

A trial's value is the mean over its seeds of the run's final validation metric: the
``evaluation`` the worker stores, which is the best epoch's when the model stops early. A
diverged or failed run counts at chance (accuracy ``1 / n_classes``, loss ``log(n_classes)``)
and is reported in the trial's record, never dropped. Only ``evaluation[metric]`` (a validation
metric) and the run's status are read: no test metric decides anything. The chosen trial is the
best value (ties: the lower trial number); its parameters replace the model's on that task in
every ordinary run (`sim.study.Study.with_params`).

Determinism and resumption: nothing here depends on time, the process or the worker count. The
samplers live only in the parent; a run's result depends only on its spec; results are told in
trial order once the whole round is stored. Resuming a study (after a SIGKILL, or with another
backend) replays the rounds from the start: the same seeded samplers ask the same trials, whose
runs are found in the store by their run ids, so the same values are told and the same next
round is asked; only the missing runs are computed.
"""

from __future__ import annotations

import math

from sim.errors import ValidationError
from sim.seeds import tuning_seed
from sim.study.search import merge_params
from sim.study.spec import trial_specs

__all__ = ["PairTuner", "tune", "score", "chance", "choose", "rounds"]


def _optuna():
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per trial
    return optuna


def _distribution(dim: dict):
    """The Optuna distribution of a dimension; categorical choices are asked by their index
    (so that any TOML value, e.g. a list of layer sizes, can be a choice)."""
    d = _optuna().distributions
    if dim["type"] == "float":
        return d.FloatDistribution(dim["low"], dim["high"], log=dim["log"])
    if dim["type"] == "int":
        return d.IntDistribution(dim["low"], dim["high"], log=dim["log"])
    return d.CategoricalDistribution(tuple(range(len(dim["choices"]))))


class PairTuner:
    """The ask-and-tell state of one tuned (model, task) pair.

    Parameters
    ----------
    space : dict
        ``{name: dimension}`` (`sim.study.search.parse_space`); asked in sorted name order.
    seed : int
        Seed of the TPE sampler (`sim.seeds.tuning_seed`).
    direction : {'maximize', 'minimize'}
    startup : int
        Random trials before TPE (Optuna's ``n_startup_trials``).
    sampler : optuna.samplers.BaseSampler, optional
        Another sampler instead (the tests compare TPE with a seeded `RandomSampler`).
    """

    def __init__(self, space: dict, seed: int, direction: str = "maximize", startup: int = 10, sampler=None):
        optuna = _optuna()
        self.space = {name: space[name] for name in sorted(space)}
        self.distributions = {name: _distribution(dim) for name, dim in self.space.items()}
        if sampler is None:
            sampler = optuna.samplers.TPESampler(seed=int(seed), n_startup_trials=int(startup))
        self.study = optuna.create_study(sampler=sampler, direction=direction)
        self.pending = {}

    def ask(self, n: int) -> list[tuple[int, dict]]:
        """Ask ``n`` trials; return ``[(trial number, {name: value})]`` (values as in the config)."""
        out = []
        for _ in range(n):
            trial = self.study.ask(self.distributions)
            point = {name: dim["choices"][trial.params[name]] if dim["type"] == "categorical" else trial.params[name]
                     for name, dim in self.space.items()}
            self.pending[trial.number] = trial
            out.append((trial.number, point))
        return out

    def tell(self, number: int, value: float) -> None:
        """Tell the value of asked trial ``number``."""
        self.study.tell(self.pending.pop(number), float(value))


def chance(metric: str, n_classes: int) -> float:
    """The value of a diverged or failed run: chance accuracy, or the loss of uniform guessing."""
    return 1.0 / n_classes if metric.endswith("accuracy") else math.log(n_classes)


def score(results: list[dict], metric: str, n_classes: int) -> dict:
    """The value of one trial from the stored results of its runs (one per tuning seed).

    Reads only each result's ``status`` and ``evaluation[metric]`` (a validation metric).

    Returns
    -------
    dict
        ``value`` (mean over the runs), ``values`` (per run, chance for a diverged or failed
        one), ``status`` (per run) and ``at_chance`` (runs counted at chance).
    """
    if not metric.startswith("val_"):
        raise ValidationError("metric", metric, "trials are scored on validation metrics only")
    values, status = [], []
    for result in results:
        state = result.get("status", "failed")
        value = (result.get("evaluation") or {}).get(metric)
        ok = state == "finished" and isinstance(value, (int, float)) and math.isfinite(value)
        values.append(float(value) if ok else chance(metric, n_classes))
        status.append(state if ok or state != "finished" else "finished without a value")
    at_chance = sum(s != "finished" for s in status)
    return {"value": sum(values) / len(values), "values": values, "status": status, "at_chance": at_chance}


def choose(records: list[dict], direction: str) -> dict | None:
    """The best trial record: highest value (lowest when minimizing), ties to the lower number."""
    sign = -1.0 if direction == "maximize" else 1.0
    return min(records, key=lambda r: (sign * r["value"], r["number"]), default=None)


def rounds(tuning: dict) -> list[int]:
    """Trials asked per round: ``batch`` each, the last round the rest."""
    n, b = tuning["trials"], tuning["batch"]
    return [min(b, n - start) for start in range(0, n, b)]


def tune(study, execute, progress=None) -> dict:
    """Run the tuning stage of ``study`` (a validated `sim.study.Study` with ``tuning``).

    Parameters
    ----------
    study : sim.study.Study
    execute : callable
        ``execute(specs) -> {run_id: result}``: make sure every run of ``specs`` (one round of
        every pair) is in the store and return their stored results (`sim.study.backends`).
    progress : callable, optional
        ``progress(state)`` before the first round, after every round and at the end, with the
        dict this function returns so far (``stage`` is ``'tuning'`` until the last round is told).

    Returns
    -------
    dict
        ``stage`` ('done'), ``rounds`` and ``rounds_done``, ``trials_done`` (per pair),
        ``pairs``: per pair ``model``, ``task``, ``model_name``, ``sampler_seed``, ``space``,
        ``trials`` (records: ``number``, ``point``, ``value``, ``values``, ``status``,
        ``at_chance``, ``run_ids``) and ``best`` (a record, or None); ``params``: ``{(model,
        task): the chosen constructor parameters}``.
    """
    t = study.tuning
    pairs, tuners = [], []
    for m_label, t_label in t["pairs"]:
        space = t["spaces"][m_label][t_label]
        seed = tuning_seed(study.root_seed, m_label, t_label)
        pairs.append({"model": m_label, "task": t_label, "model_name": study.models[m_label]["model"],
                      "sampler_seed": seed, "space": space, "trials": [], "best": None})
        tuners.append(PairTuner(space, seed, t["direction"], t["startup"]))
    plan = rounds(t)
    state = {"stage": "tuning", "rounds": len(plan), "rounds_done": 0, "trials_done": 0, "pairs": pairs}
    if progress is not None:
        progress(state)
    for n in plan:
        asked = []
        for pair, tuner in zip(pairs, tuners):
            base = study.model_for(pair["model"], pair["task"])[0]
            for number, point in tuner.ask(n):
                asked.append((pair, tuner, number, point,
                              trial_specs(study, pair["model"], pair["task"], number, merge_params(base, point))))
        results = execute([spec for *_, specs in asked for spec in specs])
        for pair, tuner, number, point, specs in asked:  # pairs in order, each pair's trials in number order
            n_classes = study.tasks[pair["task"]]["n_classes"]
            record = {"number": number, "point": point, "run_ids": [s["run_id"] for s in specs],
                      **score([results[s["run_id"]] for s in specs], t["metric"], n_classes)}
            tuner.tell(number, record["value"])
            pair["trials"].append(record)
            pair["best"] = choose(pair["trials"], t["direction"])
        state["rounds_done"] += 1
        state["trials_done"] += n
        if progress is not None:
            progress(state)
    state["stage"] = "done"
    state["params"] = {}
    for pair in pairs:
        base = study.model_for(pair["model"], pair["task"])[0]
        state["params"][(pair["model"], pair["task"])] = merge_params(base, pair["best"]["point"])
    if progress is not None:
        progress(state)
    return state

