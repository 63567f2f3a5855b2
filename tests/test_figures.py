"""Figures for papers: every figure the analyses write, drawn from a tiny study store (and the
factorial from a synthetic one), keeps its smallest text at 7 pt or more once placed at its
journal column's width, in both styles; PDFs embed TrueType (Type 42) fonts, never Type 3; the
LaTeX summary table is booktabs with the summary's rows and numbers; captions.tex has one figure
per figure of the report."""

from __future__ import annotations

import re

import numpy as np
import pytest
import test_factorial
from study_helpers import _write

from analyses import latex, learning_curves, report, representations, style, summary
from analyses.text import pm
from sim.errors import ValidationError
from sim.study.backends import run_study

STUDY = """
name = "figures"
root_seed = 5
seeds = 2
epochs = 3
[tasks.moons]
n_train = 80
n_test = 60
[tasks.digits]
[models.mlp]
model = "backprop"
hidden = [8]
lr = 0.02
[models.mlp.search]
lr = { log = [1e-3, 1e-1] }
[models.hebbian]
model = "hebbian"
hidden = 16
hidden_epochs = 1
[models.random]
model = "hebbian"
random_control = true
hidden = 16
[conditions]
noise = [0.0, 0.5]
occlusion = [0.0, 0.25]
train_per_class = { sizes = [5], tasks = ["digits"] }
sequential = { tasks = ["digits"], first = [0, 1, 2], second = [3, 4, 5], epochs = 1 }
hidden_units = { sizes = [8, 16], tasks = ["moons"], models = ["mlp", "hebbian"] }
[tuning]
trials = 2
batch = 2
startup = 2
seeds = [0]
"""


def _type3(path) -> bool:
    """Whether the PDF at ``path`` embeds a Type 3 font (its font dictionaries say so)."""
    data = open(path, "rb").read()
    return re.search(rb"/Subtype\s*/Type3", data) is not None


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("figures")
    summary_ = run_study(_write(tmp, STUDY, "figures.toml"), tmp / "out", workers=1, progress=False,
                         log=lambda *a, **k: None)
    assert summary_["failed"] == 0
    return tmp / "out"


def _drawn(monkeypatch, build, write=True):
    """Run ``build()`` recording every figure saved: ``(result, {name: (column, placed min pt,
    smallest texts)})``; with ``write`` False the figures are measured and closed, not rendered
    (the text sizes do not depend on rendering)."""
    seen = {}
    save = style.save

    def recording(fig, out_dir, name, formats=("png", "pdf")):
        sizes = sorted(style.text_sizes(fig))[:3]
        seen[name] = (style.column_of(fig), style.placed_min_pt(fig), sizes)
        if write:
            return save(fig, out_dir, name, formats)
        style.plt.close(fig)
        return [f"{out_dir}/{name}.{fmt}" for fmt in formats]

    monkeypatch.setattr(style, "save", recording)
    return build(), seen


@pytest.fixture(scope="module")
def built(store, tmp_path_factory):
    """The report in the paper style, written: ``(out, result, seen)``."""
    out = tmp_path_factory.mktemp("report-paper")
    with pytest.MonkeyPatch.context() as mp:
        result, seen = _drawn(mp, lambda: report.build(store, out, formats=("png", "pdf"), style="paper"))
    return out, result, seen


@pytest.fixture(scope="module")
def measured(store, tmp_path_factory):
    """The report in the default style, measured but not rendered: ``(result, seen)``."""
    out = tmp_path_factory.mktemp("report-default")
    with pytest.MonkeyPatch.context() as mp:
        return _drawn(mp, lambda: report.build(store, out, formats=("png", "pdf")), write=False)


# ----------------------------------------------------------------------------- the 7 pt rule

def test_placed_size_hand_worked():
    style.apply()
    fig = style.plt.figure(figsize=(14.4, 4.0))  # twice the double-column width
    fig.text(0.5, 0.5, "ten points", fontsize=10)
    hidden = fig.add_subplot()
    hidden.set_title("tiny", fontsize=2)
    hidden.set_visible(False)  # text in a hidden axes is not drawn: it does not count
    fig.text(0.1, 0.1, "", fontsize=1)  # nor does empty text
    assert style.placed_min_pt(fig, "double") == pytest.approx(10 * 7.2 / 14.4)  # 5 pt: too small
    assert style.placed_min_pt(fig, "single") == pytest.approx(10 * 3.5 / 14.4)
    with pytest.raises(ValidationError, match="figure width"):
        style.column_of(fig)
    fig.set_size_inches(3.5, 2.0)
    assert style.column_of(fig) == "single" and style.placed_min_pt(fig) == pytest.approx(10.0)
    style.plt.close(fig)


@pytest.mark.parametrize("which", ["paper", "default"])
def test_every_figure_keeps_seven_points_after_placement(which, request):
    result, seen = request.getfixturevalue("built")[1:] if which == "paper" else request.getfixturevalue("measured")
    assert result["failed"] == [], result["failed"]
    analyses = {f["analysis"] for f in result["figures"]}
    assert {"learning_curves", "generalization", "capacity", "tuning", "continual", "boundaries",
            "receptive_fields", "representations", "dynamics", "headline", "summary"} <= analyses, analyses
    assert {f["name"] for f in result["figures"]} <= set(seen)
    for fig, (column, placed, sizes) in seen.items():
        assert column in ("single", "double"), fig
        assert placed >= style.MIN_PT, (which, fig, placed, sizes)


def test_the_factorial_figure_keeps_seven_points(tmp_path, monkeypatch):
    from analyses import factorial
    path = test_factorial.make_store(tmp_path / "store", test_factorial.accuracies())
    for name in ("default", "paper"):
        with style.using(name):
            figs, seen = _drawn(monkeypatch, lambda out=tmp_path / name: factorial.build(path, out, formats=("png",)))
        assert [f["name"] for f in figs] == ["factorial"]
        column, placed, sizes = seen["factorial"]
        assert placed >= style.MIN_PT, (name, placed, sizes)


def test_paper_style_draws_300_dpi_and_restores_the_default(built, tmp_path):
    import matplotlib.image
    out, _, seen = built
    width = matplotlib.image.imread(out / "accuracy_overview.png").shape[1]
    assert width == pytest.approx(style.WIDTHS[seen["accuracy_overview"][0]] * 300, abs=2)
    assert style.current() == "default"
    fig = style.plt.figure(figsize=style.figsize("single", 0.5))
    style.save(fig, str(tmp_path), "default", formats=("png",))
    assert matplotlib.image.imread(tmp_path / "default.png").shape[1] == pytest.approx(3.5 * 150, abs=2)


def test_styles_and_columns_are_validated():
    with pytest.raises(ValidationError, match="style"):
        style.use("poster")
    with pytest.raises(ValidationError, match="column"):
        style.figsize("triple")
    assert style.figsize("single", 0.5) == (3.5, 1.75) and style.figsize("double", height=2.0) == (7.2, 2.0)
    for spec in style.STYLES.values():
        assert min(spec["sizes"].values()) >= style.MIN_PT  # drawn at the placed width: no shrinking


# ----------------------------------------------------------------------------- fonts in PDFs

def test_the_type3_check_detects_type3(tmp_path):
    fig = style.plt.figure(figsize=style.figsize("single"))
    fig.text(0.5, 0.5, "Type 3 text")
    with style.plt.rc_context({"pdf.fonttype": 3}):
        fig.savefig(tmp_path / "t3.pdf")
    assert _type3(tmp_path / "t3.pdf")
    style.save(fig, str(tmp_path), "t42", formats=("pdf",))  # the house save: TrueType
    data = (tmp_path / "t42.pdf").read_bytes()
    # Type 42: TrueType outlines, embedded by matplotlib as a CID-keyed TrueType font
    assert not _type3(tmp_path / "t42.pdf") and re.search(rb"/Subtype\s*/CIDFontType2", data)


def test_every_pdf_embeds_truetype_fonts(built):
    _, result, _ = built
    pdfs = [p for f in result["figures"] for p in f["paths"] if p.endswith(".pdf")]
    assert len(pdfs) == len(result["figures"])
    for path in pdfs:
        assert not _type3(path), path


# ----------------------------------------------------------------------------- LaTeX

def test_summary_tex_is_booktabs_with_the_summary_numbers(built, store):
    out, _, _ = built
    text = (out / "summary.tex").read_text()
    assert text.count(r"\toprule") == 1 and text.count(r"\bottomrule") == 1
    d = summary.data(store)
    body = text.split(r"\midrule", 1)[1].split(r"\bottomrule")[0]
    rows = [line for line in body.splitlines() if line.endswith(r"\\")]
    assert len(rows) == len(d["rows"])  # one row per task and model
    assert body.count(r"\midrule") == len(d["tasks"]) - 1  # a rule between tasks
    for line, r in zip(rows, d["rows"]):
        cells = [c.strip() for c in line[:-2].split("&")]
        assert len(cells) == 2 + len(latex.TABLE_COLUMNS) + 1
        assert cells[1] == latex.escape(r["model_label"])
        for cell, (_, key, digits) in zip(cells[2:], latex.TABLE_COLUMNS):
            mean, ci = r[f"{key}_mean"], r[f"{key}_ci95"]
            expected = pm(mean, ci, digits).replace("±", r"$\pm$") if np.isfinite(mean) else "---"
            assert cell == expected
            if np.isfinite(mean):  # and the number itself, read back
                assert float(cell.split(" ")[0]) == pytest.approx(mean, abs=0.05 + 1e-9)
        assert cells[-1] == f"{r['n_finished']}/{r['n_planned']}"


def test_captions_tex_has_one_figure_per_figure(built):
    out, result, seen = built
    text = (out / "captions.tex").read_text()
    labels = re.findall(r"\\label\{fig:([^}]+)\}", text)
    assert labels == [f["name"] for f in result["figures"]]
    envs = re.findall(r"\\begin\{(figure\*?)\}.*?\\includegraphics\[width=\\(\w+)\]\{([^}]+)\}", text, re.S)
    assert len(envs) == len(labels)
    for (env, width, pdf), name in zip(envs, labels):
        assert pdf == f"{name}.pdf"
        double = seen[name][0] == "double"
        assert (env, width) == (("figure*", "textwidth") if double else ("figure", "columnwidth"))
    assert text.count(r"\begin{figure") == text.count(r"\end{figure") == len(labels)


def test_latex_escape_hand_worked():
    assert latex.escape("50% of `w_inh` & *n* ± 2 − 1") == r"50\% of \texttt{w\_inh} \& \emph{n} $\pm$ 2 $-$ 1"


# ----------------------------------------------------------------------------- content

def test_the_hidden_phase_is_masked_not_drawn_at_chance(store):
    d = learning_curves.data(store)
    c = d["curves"]["digits"]["hebbian"]
    h = c["hidden_epochs"]
    assert h == 1
    masked = learning_curves.mask_hidden_phase(c, c["test_accuracy"]["mean"])
    assert np.all(np.isnan(masked[:h])) and np.array_equal(masked[h:], c["test_accuracy"]["mean"][h:])
    assert d["chance"] == {"moons": 50.0, "digits": 10.0}


def test_sparsity_ecdf_hand_worked():
    x, y = representations.ecdf([0.3, 0.1, 0.1, 0.5])
    assert list(x) == [0.1, 0.3, 0.5] and list(y) == [0.5, 0.75, 1.0]
