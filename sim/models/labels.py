"""What a model is, in words: short labels and factorial axes derived from its parameters.

A study names its models by keys of its own choosing ('mlp', 'hebbian', 'random'), and one key
may mean different networks on different tasks (the default study's 'hebbian' settles with
lateral inhibition 0.3 on digits and has none on the toys). Figures and tables therefore name a
model by what its parameters make it: :func:`describe` gives the label, :func:`axes` its place
on the two factorial axes (dynamics x learning), :func:`describe_all` one label that is true for
several parameter sets (a study key over all its tasks, optionally naming the tasks of each
variant), :func:`parts` the pieces of a label and :func:`settings` the resolved settings behind
them (defaults filled in, rule declarations applied).

The rules:

* The *model* part: 'Backprop MLP' or 'Feedback alignment' (``BackpropMLP`` by its
  ``learning``), 'Hebbian (<rule>)' (``HebbianNet`` with a plastic hidden rule), 'Random
  features' (a rule that is not plastic, i.e. rule 'none': the random-features control),
  'Readout on raw input' (no hidden layer); an MLP with ``freeze_hidden_after`` says so
  ('Backprop MLP (hidden frozen after 30 epochs)').
* The *stages* part, only with two or more hidden stages: '2 hidden layers' (MLP) or '2 stages'
  (Hebbian network).
* The *dynamics* part: 'steady' when no stage has lateral inhibition (``w_inh == 0``, no learned
  lateral weights: a stage's rate is then ``phi(J)``); 'inhibition 0.3' when the inhibited
  population settles in closed form (``settle='auto'``, ReLU or linear units, uniform
  inhibition: a k-WTA fixed point that ``tau`` and ``dt`` do not change); 'inhibition 0.3, leaky
  (tau 10 ms, dt 1 ms), time-stepped' when it is integrated in time (``settle='dynamics'`` or
  other units); 'learned lateral inhibition' for a rule with a lateral partner (Foldiak's; with
  uniform inhibition as well, 'learned lateral + uniform 0.2').
  Per-stage inhibition strengths that differ read 'inhibition 0.3 / 0'.

Missing parameters take the models' defaults (stores written before BackpropMLP had ``w_inh``
read as steady MLPs); ``w_inh=None`` and ``neuron=None`` of a Hebbian network take its rule's
declared ``default_w_inh`` and ``default_neuron``.
"""

from __future__ import annotations

from sim.errors import ValidationError
from sim.learning import rules
from sim.substrate import neurons

__all__ = ["describe", "describe_all", "axes", "parts", "settings", "DYNAMICS"]

DYNAMICS = ("steady", "inhibited", "leaky")  # the dynamics axis, from no dynamics to time-stepped
RULE_NAMES = {"competitive": "competitive", "oja": "Oja", "sanger": "Sanger", "bcm": "BCM", "hebb": "Hebb",
              "foldiak": "Foldiak"}
MAX_VARIANTS = 3  # describe_all lists up to this many variants of a part, else says "per task"

# constructor defaults of the parameters a label depends on (a missing key takes these)
_MLP_DEFAULTS = {"hidden": (128,), "learning": "backprop", "activation": "relu", "w_inh": 0.0,
                 "settle": "auto", "tau": 10.0, "dt": None, "freeze_hidden_after": None}
_HEBBIAN_DEFAULTS = {"hidden": 400, "rule": "competitive", "neuron": None, "w_inh": None, "settle": "auto",
                     "tau": 10.0, "dt": None}


def _stage_count(hidden) -> int:
    if isinstance(hidden, (list, tuple)):
        return sum(1 for h in hidden if h)
    return 1 if hidden else 0


def _per_stage(value, n: int, default: float) -> tuple:
    if isinstance(value, (list, tuple)):
        values = [default if v is None else float(v) for v in value]
        return tuple(values[:n]) + (values[-1],) * max(0, n - len(values)) if values else (default,) * n
    return (default if value is None else float(value),) * n


def _closed_form(neuron) -> bool:
    try:
        return bool(neurons.get(neuron).piecewise_linear)
    except (ValidationError, TypeError, ValueError):
        return False


def _rule(name):
    try:
        return rules.rule_class(name)
    except ValidationError:  # e.g. a user rule registered in the study's process only
        return rules.Rule


def settings(model_name: str, params: dict) -> dict:
    """The resolved settings a label is made of.

    Parameters
    ----------
    model_name : str
        Registry name of the model: 'backprop', 'hebbian' or 'readout' (others give a
        generic entry).
    params : dict
        Its constructor parameters, as a run spec stores them (missing keys take the defaults).

    Returns
    -------
    dict
        ``family`` ('backprop', 'hebbian', 'readout' or ``model_name``), ``learning`` (the
        learning axis), ``stages`` (number of hidden stages), ``w_inh`` (tuple, one uniform
        inhibition strength per stage), ``lateral`` (learned lateral weights), ``closed_form``
        (the settle needs no time steps), ``tau`` and ``dt`` (ms; ``dt`` defaults to ``tau``),
        ``rule`` (Hebbian networks) and ``plastic``.
    """
    params = params or {}
    if model_name == "backprop":
        p = {**_MLP_DEFAULTS, **{k: v for k, v in params.items() if k in _MLP_DEFAULTS}}
        n = _stage_count(p["hidden"])
        out = {"family": "backprop", "learning": p["learning"], "stages": n, "rule": None, "plastic": True,
               "w_inh": _per_stage(p["w_inh"], n, 0.0), "lateral": False,
               "closed_form": p["settle"] == "auto" and _closed_form(p["activation"])}
    elif model_name in ("hebbian", "readout"):
        p = {**_HEBBIAN_DEFAULTS, **{k: v for k, v in params.items() if k in _HEBBIAN_DEFAULTS}}
        if model_name == "readout":
            p.update(hidden=0, rule="none")
        cls = _rule(p["rule"])
        n = _stage_count(p["hidden"])
        lateral = cls.lateral_rule is not None and n > 0
        neuron = cls.default_neuron if p["neuron"] is None else p["neuron"]
        out = {"family": "readout" if n == 0 else "hebbian", "rule": p["rule"], "plastic": bool(cls.plastic),
               "learning": p["rule"] if cls.plastic and n > 0 else "none", "stages": n,
               "w_inh": _per_stage(p["w_inh"], n, float(cls.default_w_inh)), "lateral": lateral,
               "closed_form": p["settle"] == "auto" and _closed_form(neuron) and not lateral}
    else:
        return {"family": model_name, "learning": "none", "stages": 0, "rule": None, "plastic": False,
                "w_inh": (), "lateral": False, "closed_form": True, "tau": None, "dt": None}
    out["tau"] = float(p["tau"])
    out["dt"] = out["tau"] if p["dt"] is None else float(p["dt"])
    return out


def _dynamics_axis(s: dict) -> str:
    if s["lateral"] or (any(w > 0 for w in s["w_inh"]) and not s["closed_form"]):
        return "leaky"
    return "inhibited" if any(w > 0 for w in s["w_inh"]) else "steady"


def axes(model_name: str, params: dict) -> dict:
    """The model's place in the factorial design.

    Parameters
    ----------
    model_name : str
        Registry name ('backprop', 'hebbian', 'readout').
    params : dict
        Constructor parameters (missing keys take the defaults).

    Returns
    -------
    dict
        ``dynamics``: 'steady' (no lateral inhibition: rates are ``phi(J)``), 'inhibited'
        (uniform inhibition settled in closed form) or 'leaky' (integrated in time, or learned
        lateral weights); ``learning``: 'backprop', 'feedback_alignment', the hidden rule's name
        (e.g. 'competitive') or 'none' (fixed random hidden weights, or no hidden layer).
    """
    s = settings(model_name, params)
    return {"dynamics": _dynamics_axis(s), "learning": s["learning"]}


def _num(x) -> str:
    return f"{x:g}"


def _inhibition(w) -> str:
    return "inhibition " + (_num(w[0]) if len(set(w)) == 1 else " / ".join(map(_num, w)))


def parts(model_name: str, params: dict) -> dict:
    """The pieces of :func:`describe`'s label.

    Parameters
    ----------
    model_name : str
        Registry name ('backprop', 'hebbian', 'readout').
    params : dict
        Constructor parameters (missing keys take the defaults).

    Returns
    -------
    dict
        ``model`` (e.g. 'Hebbian (competitive)'), ``stages`` (int, number of hidden stages),
        ``unit`` ('hidden layer' or 'stage': what a stage is called) and ``dynamics`` (e.g.
        'inhibition 0.3'; '' without a hidden stage).
    """
    s = settings(model_name, params)
    n, family = s["stages"], s["family"]
    if family == "backprop":
        name = {"backprop": "Backprop", "feedback_alignment": "Feedback alignment"}.get(s["learning"],
                                                                                        s["learning"])
        model = (name + " MLP" if name == "Backprop" else name) if n else f"Linear readout ({name.lower()})"
        frozen = (params or {}).get("freeze_hidden_after")
        if n and frozen is not None:
            model += f" (hidden frozen after {frozen} epochs)"
    elif family == "hebbian":
        model = (f"Hebbian ({RULE_NAMES.get(s['rule'], s['rule'])})" if s["plastic"] else "Random features")
    elif family == "readout":
        model = "Readout on raw input"
    else:
        model = family
    kind = _dynamics_axis(s)
    if n == 0:
        dynamics = ""
    elif s["lateral"]:
        w = s["w_inh"]
        dynamics = (f"learned lateral + uniform {_num(max(w))}" if any(x > 0 for x in w)
                    else "learned lateral inhibition")
    elif kind == "steady":
        dynamics = "steady"
    elif kind == "inhibited":
        dynamics = _inhibition(s["w_inh"])
    else:
        dynamics = f"{_inhibition(s['w_inh'])}, leaky (tau {_num(s['tau'])} ms, dt {_num(s['dt'])} ms), time-stepped"
    return {"model": model, "stages": n, "unit": "hidden layer" if family == "backprop" else "stage",
            "dynamics": dynamics}


def _stages_text(counts, unit) -> str:
    counts = sorted(set(counts))
    if counts == [1] or not any(counts):
        return ""
    plural = unit + ("s" if max(counts) > 1 else "")
    return f"{' or '.join(map(str, counts))} {plural}" if len(counts) <= MAX_VARIANTS else f"{plural} per task"


def _join(model, stages, dynamics) -> str:
    return ", ".join(x for x in (model, stages, dynamics) if x)


def describe(model_name: str, params: dict) -> str:
    """A short label saying what the model is, e.g. 'Hebbian (competitive), inhibition 0.3'.

    Parameters
    ----------
    model_name : str
        Registry name of the model ('backprop', 'hebbian', 'readout'), as in a run spec's
        ``model_name``.
    params : dict
        Its constructor parameters, as in a run spec's ``params``; missing keys take the
        model's defaults.

    Returns
    -------
    str
        '<model>[, <n> hidden layers | <n> stages], <dynamics>' (see the module docstring), e.g.
        'Backprop MLP, steady', 'Feedback alignment, 2 hidden layers, inhibition 0.3',
        'Random features, inhibition 0.3', 'Hebbian (Foldiak), learned lateral inhibition'.

    Examples
    --------
    >>> describe("hebbian", {"rule": "competitive", "w_inh": 0.0})
    'Hebbian (competitive), steady'
    >>> describe("backprop", {"hidden": [100, 100]})
    'Backprop MLP, 2 hidden layers, steady'
    """
    p = parts(model_name, params)
    return _join(p["model"], _stages_text([p["stages"]], p["unit"]), p["dynamics"])


def _variants(values, what: str, where=None) -> str:
    """The distinct values joined by 'or' (with the places each holds on, when given)."""
    groups = {}
    for k, v in enumerate(values):
        if v:
            groups.setdefault(v, []).append(None if where is None else where[k])
    if len(groups) > MAX_VARIANTS:
        return f"{what} per task"
    if where is None:
        return " or ".join(groups)
    return " or ".join(f"{v} ({', '.join(map(str, dict.fromkeys(ws)))})" for v, ws in groups.items())


def describe_all(models, where=None, width: int | None = None) -> str:
    """One label that is true for every one of several parameter sets (e.g. a study's model key
    over all its tasks): the parts they share, and the variants of the parts they do not.

    Parameters
    ----------
    models : iterable of (str, dict)
        ``(model_name, params)`` pairs.
    where : sequence of str, optional
        A name for each pair (e.g. its task). When exactly one part varies, each variant is
        followed by the names it holds for: 'steady (moons) or inhibition 0.3 (digits)'.
    width : int, optional
        Longest label with names; a longer one is given without them.

    Returns
    -------
    str
        :func:`describe`'s label when all agree; otherwise each differing part lists its
        variants joined by 'or' (up to `MAX_VARIANTS`, else '<part> per task'; dynamics from
        steady to time-stepped, the others in the order given), e.g.
        'Hebbian (competitive), steady or inhibition 0.3' or
        'Backprop MLP, 1 or 2 hidden layers, steady'. '' for no models.
    """
    models = list(models)
    ps = [parts(name, params) for name, params in models]
    if not ps:
        return ""
    texts = [_join(p["model"], _stages_text([p["stages"]], p["unit"]), p["dynamics"]) for p in ps]
    if len(set(texts)) == 1:
        return texts[0]
    # dynamics variants from steady to time-stepped (stable: ties keep the order given)
    order = sorted(range(len(ps)), key=lambda k: DYNAMICS.index(axes(*models[k])["dynamics"]))
    ps, names = [ps[k] for k in order], None if where is None else [list(where)[k] for k in order]
    units = {p["unit"] for p in ps}
    unit = units.pop() if len(units) == 1 else "stage"
    stage_texts = [_stages_text([p["stages"]], p["unit"]) or f"1 {p['unit']}" for p in ps]
    fields = {"model": [p["model"] for p in ps], "stages": stage_texts, "dynamics": [p["dynamics"] for p in ps]}
    varying = [k for k, v in fields.items() if len(set(v)) > 1]
    plain = {"model": _variants(fields["model"], "model"),
             "stages": _stages_text([p["stages"] for p in ps], unit),
             "dynamics": _variants(fields["dynamics"], "dynamics")}
    if names is not None and len(varying) == 1:
        named = dict(plain, **{varying[0]: _variants(fields[varying[0]], varying[0], names)})
        label = _join(named["model"], named["stages"], named["dynamics"])
        if width is None or len(label) <= width:
            return label
    return _join(plain["model"], plain["stages"], plain["dynamics"])
