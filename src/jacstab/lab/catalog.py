"""Which experiments a store holds: each experiment's definition as JSON, registered by the runner, read back by
``jacstab report``.

An experiment is stored as ``{"name", "specs": [spec dicts], "seeds": [...], "metrics": [{"name", "params"}]}``;
reading it back rebuilds the same :class:`~jacstab.lab.experiment.Experiment`, hence the same trial ids. Stores
written before experiments were registered (jacstab < 0.3) still hold the built-in figures: a built-in experiment
(quick or full size) counts as stored when any of its trials is stored.
"""

from __future__ import annotations

import json

from jacstab._checks import closest
from jacstab.lab.builtin import BUILTIN, builtin_experiment, needs_missing_data
from jacstab.lab.experiment import Experiment
from jacstab.lab.store import Store
from jacstab.lab.trials import MetricCall
from jacstab.specs import NetSpec


def experiment_json(exp: Experiment) -> str:
    """The definition of ``exp`` as canonical JSON (what :func:`experiment_from_json` reads)."""
    doc = {
        "name": exp.name,
        "specs": [s.to_dict() for s in exp.specs],
        "seeds": list(exp.seeds),
        "metrics": [{"name": m.name, "params": dict(m.params)} for m in exp.metrics],
        "input": exp.input,
        "data_dir": exp.data_dir,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def experiment_from_json(text: str) -> Experiment:
    """The :class:`Experiment` of a stored definition (its trials have the ids they had when it ran)."""
    doc = json.loads(text)
    calls = tuple(MetricCall.make(m["name"], **m["params"]) for m in doc["metrics"])
    specs = tuple(NetSpec.from_dict(d) for d in doc["specs"])
    return Experiment(doc["name"], specs, tuple(doc["seeds"]), calls, doc.get("input", "default"), doc.get("data_dir"))


def register(store: Store, exp: Experiment) -> None:
    """Record ``exp`` and its trial ids in ``store`` (the runner calls it before computing)."""
    store.register_experiment(exp.name, experiment_json(exp), (t.id for t in exp.trials()))


def stored_experiments(store: Store) -> dict[str, Experiment]:
    """``{name: Experiment}`` of every experiment ``store`` holds: the registered ones (latest definition of
    each name, oldest first), then unregistered built-ins (quick and full size) with a stored trial that no other
    built-in shares (fig4's eta = 0 is fig1's sigma2 = 2), or with every trial stored."""
    out = {name: experiment_from_json(text) for name, text in store.experiment_definitions().items()}
    builtins = [e for b in BUILTIN for q in (True, False)
                if needs_missing_data(e := builtin_experiment(b, quick=q)) is None]
    ids = {e.name: {t.id for t in e.trials()} for e in builtins}
    stored = store.finished() if any(name not in out for name in ids) else set()
    for e in builtins:
        if e.name in out:
            continue
        mine = ids[e.name]
        others = set().union(*(v for k, v in ids.items() if k != e.name))
        # evidence: a stored trial no other built-in shares, or every trial stored (fig1 is part of residual-depth)
        if (mine - others) & stored or mine <= stored:
            out[e.name] = e
    return out


def select(store: Store, names: list[str] | tuple[str, ...], *, quick: bool = False) -> list[Experiment]:
    """The experiments ``names`` from ``store`` (all of them when empty; ``quick`` keeps the quick-size
    built-ins only). A built-in's short name (``fig1``) means its stored size (``fig1-quick`` with ``quick``,
    else ``fig1-full``, else whichever is stored).

    Raises:
        ValueError: a name the store does not hold (naming the experiments it holds), or an empty store.
    """
    held = stored_experiments(store)
    if not held:
        raise ValueError(f"the store {str(store.path)!r} holds no experiments: nothing to report (run "
                         "`jacstab sweep` or `jacstab reproduce` first)")
    if not names:
        picked = [e for n, e in held.items() if not quick or n in {f"{b}-quick" for b in BUILTIN}]
        if not picked:
            raise ValueError(f"the store holds no quick-size built-in experiment; it holds: {', '.join(held)}")
        return picked
    out = []
    for name in names:
        sizes = ["quick", "full"] if quick else ["full", "quick"]
        full = name if name in held else next((f"{name}-{s}" for s in sizes if f"{name}-{s}" in held), None)
        if full is None:
            raise ValueError(f"the store holds no experiment {name!r}{closest(name, list(held))}; "
                             f"it holds: {', '.join(held)}")
        out.append(held[full])
    return list({e.name: e for e in out}.values())
