"""Figures a reviewer can trust: the same bytes whatever fonts the machine has, and the figure
checker (every mark from a statistics row, legend n = points drawn, no overlapping or clipped
text, no raw identifiers) on hand-made figures where it must find each defect."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

# A figure with what the paper figures use: bold panel letter, italic gene name, Greek letters,
# superscripts (⁻ is not in Liberation Sans: it comes from the bundled DejaVu Sans) and mathtext.
RENDER = """
import sys
import matplotlib.pyplot as plt
from exneuro.figures.style import apply_style, mm, save_figure
apply_style(7)
figure, axis = plt.subplots(figsize=(mm(85), mm(50)))
axis.plot([1, 2, 3], [1.0, 4.0, 2.0])
axis.set_title("A", loc="left", fontweight="bold")
axis.set_xlabel("Δ distance (m), p = 1.6 × 10⁻⁵, ε = 0.27, η² ± µm")
axis.set_ylabel("log$_2$ fold change")
axis.text(1.5, 3.0, "Ppargc1a", fontstyle="italic")
save_figure(figure, sys.argv[1], ["pdf", "svg", "png"], 300)
"""
FONT_FOLDERS = ["/usr/share/fonts", "/usr/local/share/fonts"]


def _render(stem: Path, hide_system_fonts: bool) -> None:
    """Render RENDER into ``stem.*`` in a fresh interpreter with an empty matplotlib cache;
    with ``hide_system_fonts``, inside a private mount namespace where every system font
    folder is an empty tmpfs."""
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "MPLCONFIGDIR": str(stem.parent / f"mpl_{stem.name}"),
    }
    command = [sys.executable, "-c", RENDER, str(stem)]
    if hide_system_fonts:
        mounts = " && ".join(
            f"mount -t tmpfs none {folder}" for folder in FONT_FOLDERS if Path(folder).is_dir()
        )
        command = ["unshare", "--mount", "sh", "-c", f'{mounts} && exec "$@"', "sh", *command]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def test_figures_have_the_same_bytes_with_the_system_fonts_hidden(tmp_path):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare to hide the system font folders")
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("mount namespaces are not available here")
    _render(tmp_path / "visible", hide_system_fonts=False)
    _render(tmp_path / "hidden", hide_system_fonts=True)
    for fmt in ("pdf", "svg", "png"):
        visible = (tmp_path / f"visible.{fmt}").read_bytes()
        hidden = (tmp_path / f"hidden.{fmt}").read_bytes()
        assert visible == hidden, fmt
    embedded = set(
        re.findall(rb"/FontName /[A-Z]{6}\+([\w-]+)", (tmp_path / "hidden.pdf").read_bytes())
    )
    # the shipped faces, and the bundled fallback for the one glyph they lack
    assert embedded == {
        b"LiberationSans",
        b"LiberationSans-Bold",
        b"LiberationSans-Italic",
        b"DejaVuSans",
    }


def test_only_the_shipped_and_bundled_fonts_are_registered():
    import matplotlib
    from matplotlib import font_manager

    from exneuro.figures.style import FONT_DIR, apply_style

    apply_style(7)
    folders = {Path(font.fname).parent for font in font_manager.fontManager.ttflist}
    assert folders == {FONT_DIR, Path(matplotlib.get_data_path(), "fonts", "ttf")}
    found = font_manager.findfont(font_manager.FontProperties(family="Liberation Sans"))
    assert Path(found) == FONT_DIR / "LiberationSans-Regular.ttf"
    bold = font_manager.findfont(
        font_manager.FontProperties(family="Liberation Sans", weight="bold")
    )
    assert Path(bold) == FONT_DIR / "LiberationSans-Bold.ttf"


ROW = {
    "analysis": "treadmill",
    "outcome": "distance_m",
    "subset": "cohort=silencing; session=d15",
    "test": "emm_contrast",
    "term": "silenced - control",
    "p_adj": 0.0021,
}


def _figure():
    import matplotlib.pyplot as plt

    from exneuro.figures.style import apply_style, mm

    apply_style(7)
    figure, axis = plt.subplots(figsize=(mm(85), mm(60)), layout="constrained")
    axis.plot([0, 1, 2], [1.0, 2.0, 3.0])
    axis.set_xlim(-0.5, 2.5)
    axis.set_ylim(0, 5)
    return figure, axis


def _statistics(**changes):
    import pandas as pd

    return pd.DataFrame([{**ROW, **changes}])


def test_a_mark_drawn_from_its_row_passes_and_a_hand_written_one_is_named():
    from exneuro.figures.checks import PanelCheck, check_figure
    from exneuro.figures.marks import draw_mark

    figure, axis = _figure()
    text = draw_mark(axis, 2, 3.5, ROW)
    assert text.get_text() == "**" and text.get_rotation() == 0
    panel = PanelCheck("A", axis, _statistics())
    assert check_figure(figure, _statistics(), [panel]) == []
    axis.text(1, 3.5, "*")
    problems = check_figure(figure, _statistics(), [panel])
    assert problems == ["panel A: '*' is a mark drawn from no statistics row"]


def test_a_mark_whose_row_changed_bin_or_vanished_is_named():
    from exneuro.figures.checks import check_figure
    from exneuro.figures.marks import draw_mark

    figure, axis = _figure()
    draw_mark(axis, 2, 3.5, ROW)
    changed = check_figure(figure, _statistics(p_adj=0.03))
    assert len(changed) == 1 and "does not match p_adj = 0.03" in changed[0]
    missing = check_figure(figure, _statistics(term="stimulated - control"))
    assert len(missing) == 1 and "missing from the table" in missing[0]


def test_a_significant_row_the_panel_asks_for_without_its_mark_is_named():
    from exneuro.figures.checks import PanelCheck, check_figure

    figure, axis = _figure()
    asked = _statistics()
    problems = check_figure(figure, asked, [PanelCheck("C", axis, asked)])
    assert problems == [
        "panel C: the significant row treadmill | distance_m | cohort=silencing; session=d15 | "
        "emm_contrast | silenced - control (p_adj = 0.0021) has no mark"
    ]
    # not significant: no mark needed
    ns = _statistics(p_adj=0.2)
    assert check_figure(figure, ns, [PanelCheck("C", axis, ns)]) == []


def test_legend_n_that_differs_from_the_mice_drawn_is_named():
    from exneuro.figures.checks import PanelCheck, check_figure

    figure, axis = _figure()
    panel = PanelCheck(
        "A", axis, legend_n={"control": 7, "silenced": 8}, drawn_n={"control": 8, "silenced": 8}
    )
    assert check_figure(figure, None, [panel]) == [
        "panel A: the legend states n = {'control': 7, 'silenced': 8}, the panel draws "
        "{'control': 8, 'silenced': 8}"
    ]


def test_a_panel_that_counts_mice_but_draws_no_data_is_named():
    import matplotlib.pyplot as plt

    from exneuro.figures.checks import PanelCheck, check_figure

    figure, axis = _figure()
    drawn = {"control": 8, "silenced": 8}
    assert check_figure(figure, None, [PanelCheck("A", axis, drawn_n=drawn)]) == []
    figure, axis = plt.subplots()
    axis.plot([0, 1], [np.nan, np.nan])  # levels that matched no value: nothing on the axes
    assert check_figure(figure, None, [PanelCheck("A", axis, drawn_n=drawn)]) == [
        "panel A: draws no data although its legend counts 16 mice"
    ]


def test_overlapping_texts_texts_outside_and_legends_on_data_are_named():
    from exneuro.figures.checks import check_figure

    figure, axis = _figure()
    axis.text(1, 2.5, "first label")
    axis.text(1, 2.5, "second label")
    assert any("overlaps" in p for p in check_figure(figure))
    figure, axis = _figure()
    figure.text(0.9, 0.5, "a long label running off the figure")
    assert any("outside the figure" in p for p in check_figure(figure))
    figure, axis = _figure()
    axis.plot([1.0], [2.5], "o", label="mice")
    axis.legend(loc="center")
    assert any("legend covers" in p for p in check_figure(figure))


def test_rotated_tick_labels_that_do_not_touch_are_not_reported():
    from exneuro.figures.checks import check_figure

    figure, axis = _figure()
    axis.set_xticks(
        [0, 1, 2],
        ["Control, trained", "Silenced, trained", "Other"],
        rotation=35,
        ha="right",
        rotation_mode="anchor",
    )
    assert check_figure(figure) == []
    axis.set_xticks(
        [0, 1, 2],
        ["a very long condition name, trained", "another long condition, sedentary", "x"],
        rotation=0,
    )
    assert any("overlaps" in p for p in check_figure(figure))


def test_raw_identifiers_are_named_and_labels_are_not():
    from exneuro.figures.checks import check_figure

    groups = {"control": "Control", "silenced": "SF1 silenced (TeLC)"}
    figure, axis = _figure()
    axis.set_xlabel("SF1 silenced (TeLC) − Control; log$_2$ fold change")
    axis.set_ylabel("Distance (m)")
    assert check_figure(figure, identifiers=groups) == []
    axis.set_title("silenced − control")
    axis.set_ylabel("max_speed_m_min")
    problems = check_figure(figure, identifiers=groups)
    assert any("config id 'silenced'" in p for p in problems)
    assert any("'max_speed_m_min' shows a raw identifier" in p for p in problems)


def test_legend_gives_a_test_on_other_mice_its_own_n_and_says_a_fit_is_singular():
    import pandas as pd

    from exneuro.figures.legend import describe_tests

    labels = {"control": "Control", "silenced": "SF1 silenced"}
    anova = {
        "test": "mixed_anova",
        "term": "group",
        "statistic_name": "F",
        "statistic": 13.8,
        "df_num": 1,
        "df_den": 12,
        "p": 0.003,
        "p_adj": 0.003,
        "correction": "none",
        "n_by_group": "control=7; silenced=7",
    }
    drawn = {"control": 8, "silenced": 7}
    text = describe_tests(pd.DataFrame([anova]), labels, drawn)
    assert text.endswith("(this test on n = 7 Control, 7 SF1 silenced mice)")
    same = describe_tests(
        pd.DataFrame([{**anova, "n_by_group": "control=8; silenced=7"}]), labels, drawn
    )
    assert "this test on" not in same
    singular = describe_tests(pd.DataFrame([{**anova, "test": "lmm", "singular": True}]), labels)
    assert "singular fit" in singular
    contrast = describe_tests(
        pd.DataFrame([{**anova, "test": "emm_contrast", "term": "silenced - control"}]), labels
    )
    assert "(SF1 silenced − Control)" in contrast and "_" not in contrast


def _glucose_study(with_posthoc: bool):
    import pandas as pd

    from exneuro.paper.panels import Study

    data = pd.DataFrame(
        {
            "mouse": ["M1", "M1", "M2", "M2", "M3", "M3", "M4", "M4"],
            "group": ["control"] * 4 + ["silenced"] * 4,
            "minutes": ["0", "15"] * 4,  # factor levels are text, as the workflow reads them
            "glucose": [130.0, 180.0, 135.0, 175.0, 131.0, 140.0, 129.0, 138.0],
        }
    )
    rows = [
        {
            "analysis": "table glucose",
            "outcome": "glucose",
            "subset": f"minutes={level}",
            "test": "emm_contrast",
            "term": "silenced - control",
            "p": p,
            "p_adj": p,
            "correction": "Sidak (2 tests)",
            "n_by_group": "control=2; silenced=2",
        }
        for level, p in ((0, 0.6), (15, 0.002))
    ]
    statistics = pd.DataFrame(rows if with_posthoc else rows[:0], columns=list(rows[0]))
    declaration = {
        "subject": "mouse",
        "between": ["group"],
        "within": ["minutes"],
        "covariates": [],
        "nested": [],
        "outcomes": ["glucose"],
        "outcome_labels": {"glucose": "Blood glucose (mg/dL)"},
        "split_by": [],
        "level_order": {},
        "figure": "line",
    }
    settings = {
        "groups": [
            {"id": "control", "label": "Control", "color": "#4D4D4D"},
            {"id": "silenced", "label": "SF1 silenced", "color": "#D55E00"},
        ],
        "cohorts": [],
        "tables": {"glucose": declaration},
    }
    return Study({"tables/glucose/data.tsv": data}, statistics, settings)


FIGURE = {
    "id": "figure4",
    "title": "Glucose",
    "width": "single",
    "height_mm": 60,
    "rows": 1,
    "columns": 1,
    "panels": [
        {
            "letter": "C",
            "plot": "table_plot",
            "table": "glucose",
            "test": "emm_contrast",
            "at": [0, 0],
        }
    ],
}
STYLE = {"font_size_pt": 7, "single_column_mm": 85, "full_width_mm": 174, "png_dpi": 100}


def test_declared_table_panel_draws_the_post_hoc_stars_its_legend_reports(tmp_path):
    import pandas as pd

    from exneuro.paper.compose import paper_figure

    panels = paper_figure(
        FIGURE,
        _glucose_study(with_posthoc=True),
        STYLE,
        [str(tmp_path / "figure4.png")],
        str(tmp_path / "source"),
        str(tmp_path / "legend.md"),
        str(tmp_path / "statistics.tsv"),
    )
    assert len(panels["C"].marked) == 2 and panels["C"].n_by_group == {"control": 2, "silenced": 2}
    assert pd.read_csv(tmp_path / "source" / "checks.tsv", sep="\t")["problem"].tolist() == []
    legend = (tmp_path / "legend.md").read_text(encoding="utf-8")
    assert "(n = 2 Control, 2 SF1 silenced mice)" in legend
    assert "(SF1 silenced − Control)" in legend and "stars show adjusted p" in legend


def test_declared_table_panel_naming_post_hoc_contrasts_the_table_lacks_stops(tmp_path):
    from exneuro.paper.compose import draw_panels
    from exneuro.paper.panels import PanelError

    with pytest.raises(PanelError, match="test 'emm_contrast' is named but the table 'glucose'"):
        draw_panels(FIGURE, _glucose_study(with_posthoc=False), STYLE)
