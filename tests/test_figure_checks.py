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
