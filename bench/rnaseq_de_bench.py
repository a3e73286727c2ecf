"""Differential expression: our DESeq2 engine's wall time beside R DESeq2's, and their agreement.

Usage: python bench/rnaseq_de_bench.py [--genes 15000] [--per-cell 12] [--small] [--record]
                                       [--pydeseq2]

Simulates a control/silenced x sedentary/trained study (exneuro.simulate.rnaseq, ``per-cell``
mice per cell, two library batches) with genes whose counts are zero in one cell, in both
control cells, or everywhere but one cell; fits ``~ batch + group_training`` and tests four
contrasts (training in control, training in silenced, silenced vs control sedentary — DESeq2
character contrasts — and the interaction, a numeric contrast) with ``alpha = 0.05``. Both
sides run on one core (this process and ``Rscript`` pinned to CPU 0, one BLAS thread) and time
only the fit and the contrasts (R: ``DESeq()`` + ``results()``), not reading or writing.

R is called when ``Rscript`` with DESeq2 is installed (the script is
``tests/reference/deseq2_multifactor/deseq2_reference.R``); then the agreement per contrast is
printed too (DE count at padj < 0.05 both ways, Jaccard index, max |delta log2FC| for baseMean >
10). Without R the last recorded R time for the same size is printed with its date
(``bench/rnaseq_de_r_times.json``, updated by ``--record``). ``--pydeseq2`` also times pydeseq2
(the Python DESeq2 port, one fit and a ``DeseqStats`` per contrast vector, one BLAS thread as the
pipeline ran it) and prints its agreement with R.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from exneuro.rnaseq import de, normalize
from exneuro.simulate.rnaseq import RnaseqEffects, rnaseq_mice, simulate_counts

BENCH = Path(__file__).resolve().parent
R_SCRIPT = BENCH.parent / "tests" / "reference" / "deseq2_multifactor" / "deseq2_reference.R"
R_TIMES = BENCH / "rnaseq_de_r_times.json"
DESIGN = "~ batch + group_training"
ALPHA = 0.05
FACTOR = "group_training"
CONTRASTS = yaml.safe_load((R_SCRIPT.parent / "contrasts.yaml").read_text())
# the same contrasts for R: resultsNames are Intercept, batch_B2_vs_B1, then the three
# group_training levels vs control_sedentary (control_trained, silenced_sedentary, silenced_trained)
R_CONTRASTS = pd.DataFrame(
    [
        ("training_control", "character", f"{FACTOR},control_trained,control_sedentary"),
        ("training_silenced", "character", f"{FACTOR},silenced_trained,silenced_sedentary"),
        ("silenced_sedentary", "character", f"{FACTOR},silenced_sedentary,control_sedentary"),
        ("interaction", "numeric", "0,0,-1,-1,1"),
    ],
    columns=["name", "kind", "value"],
)


def simulate_study(
    n_genes: int, per_cell: int, seed: int = 7, zero_fraction: float = 0.02
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts (genes x samples) and sample sheet (sample, batch, group_training) of the study,
    with ``zero_fraction`` of the expressed genes given all-zero groups (cycling through: one
    cell zero, both control cells zero, all cells but one zero)."""
    effects = RnaseqEffects(n_genes=n_genes, mice_per_cell=per_cell)
    mice = rnaseq_mice(effects)
    mice = mice.assign(group_training=mice["group"] + "_" + mice["training"])
    rng = np.random.default_rng(seed)
    counts, _ = simulate_counts(effects, mice, rng)
    samples = mice.set_index("rnaseq_sample").loc[counts.columns]
    cells = samples[FACTOR].to_numpy()
    levels = sorted(set(cells))
    values = counts.to_numpy().copy()
    expressed = np.flatnonzero(values.mean(axis=1) > 5)
    n_planted = max(6, int(len(expressed) * zero_fraction))
    planted = rng.choice(expressed, size=n_planted, replace=False)
    for k, gene in enumerate(planted):  # a few hundred genes at most
        if k % 3 == 0:
            values[gene, cells == levels[k % 4]] = 0
        elif k % 3 == 1:
            values[gene, np.isin(cells, levels[:2])] = 0
        else:
            values[gene, cells != levels[k % 4]] = 0
    counts = pd.DataFrame(values, index=counts.index, columns=counts.columns)
    sheet = samples[["batch", FACTOR]].rename_axis("sample").reset_index()
    return counts, sheet


def write_inputs(folder: Path, counts: pd.DataFrame, sheet: pd.DataFrame) -> None:
    """counts.tsv, samples.tsv and contrasts.tsv as the R script reads them."""
    counts.rename_axis("gene_id").to_csv(folder / "counts.tsv", sep="\t")
    sheet.to_csv(folder / "samples.tsv", sep="\t", index=False)
    R_CONTRASTS.to_csv(folder / "contrasts.tsv", sep="\t", index=False)


def r_available() -> bool:
    """Rscript on the PATH with DESeq2 installed (checked without loading it)."""
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", 'cat(nzchar(system.file(package = "DESeq2")))'],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stdout.strip() == "TRUE"


def run_r(folder: Path) -> tuple[float, str]:
    """R DESeq2 on the inputs in ``folder`` (one core); its fit + results seconds and version."""
    command = ["Rscript", str(R_SCRIPT), "counts.tsv", "samples.tsv", "contrasts.tsv"]
    command += [DESIGN, str(ALPHA), "."]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=True, env=env)
    line = next(x for x in done.stdout.splitlines() if x.startswith("DESeq2 "))
    words = line.split()
    return float(words[words.index("total") + 1]), words[1]


def run_pydeseq2(counts: pd.DataFrame, samples: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """pydeseq2 with DESeq2's defaults on the same design and contrast vectors."""
    import warnings

    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    weights = de.contrast_matrix(samples, DESIGN, CONTRASTS)
    metadata = samples[["batch", FACTOR]].astype("category")
    inference = DefaultInference(n_cpus=1)
    with normalize.single_threaded_blas(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dds = DeseqDataSet(
            counts=counts.T, metadata=metadata, design=DESIGN, inference=inference, quiet=True
        )
        dds.deseq2()
        tables = {}
        for name in weights.index:
            stats = DeseqStats(
                dds, contrast=weights.loc[name].to_numpy(float), alpha=ALPHA,
                inference=inference, quiet=True,
            )  # fmt: skip
            stats.summary()
            tables[name] = stats.results_df.rename_axis("gene_id").reset_index()
    return tables


def agreement(ours: dict[str, pd.DataFrame], folder: Path) -> list[str]:
    """One line per contrast: DE counts, Jaccard, max |delta LFC| (baseMean > 10) vs R."""
    lines = []
    for name, table in ours.items():
        table = table.set_index("gene_id")
        ref = pd.read_csv(folder / f"ref_{name}.csv", index_col=0).loc[table.index]
        mine = set(table.index[table["padj"] < ALPHA])
        theirs = set(ref.index[ref["padj"] < ALPHA])
        jaccard = len(mine & theirs) / max(1, len(mine | theirs))
        expressed = ref["baseMean"] > 10
        delta = (table["log2FoldChange"] - ref["log2FoldChange"]).abs()[expressed].max()
        lines.append(
            f"  {name:<20s} DE {len(mine):5d} vs R {len(theirs):5d}   Jaccard {jaccard:.4f}   "
            f"max |dLFC| (baseMean > 10) {delta:.1e}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=15000)
    parser.add_argument("--per-cell", type=int, default=12, help="samples per group x training")
    parser.add_argument("--small", action="store_true", help="2,500 genes x 32 samples")
    parser.add_argument("--record", action="store_true", help="store R's time in the json")
    parser.add_argument("--pydeseq2", action="store_true", help="time pydeseq2 as well")
    args = parser.parse_args()
    genes, per_cell = (2500, 8) if args.small else (args.genes, args.per_cell)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    counts, sheet = simulate_study(genes, per_cell)
    size = f"{counts.shape[0]}x{counts.shape[1]}"
    print(f"matrix: {counts.shape[0]} genes x {counts.shape[1]} samples, {DESIGN}, 4 contrasts")
    samples = sheet.set_index("sample")
    start = time.perf_counter()
    ours = de.run_deseq2(counts, samples, DESIGN, CONTRASTS, alpha=ALPHA)
    seconds = time.perf_counter() - start
    print(f"exneuro DESeq2 engine  {seconds:8.2f} s")
    if args.pydeseq2:
        start = time.perf_counter()
        theirs = run_pydeseq2(counts, samples)
        print(f"pydeseq2               {time.perf_counter() - start:8.2f} s")
    recorded = json.loads(R_TIMES.read_text()) if R_TIMES.exists() else {}
    lines = []
    if r_available():
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            write_inputs(folder, counts, sheet)
            r_seconds, version = run_r(folder)
            lines = agreement(ours, folder)
            if args.pydeseq2:
                lines += ["pydeseq2:", *agreement(theirs, folder)]
        source = "measured now"
        if args.record:
            today = datetime.date.today().isoformat()
            recorded[size] = {"seconds": round(r_seconds, 2), "date": today, "deseq2": version}
            R_TIMES.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    elif size in recorded:
        entry = recorded[size]
        r_seconds, version = entry["seconds"], entry["deseq2"]
        source = f"recorded {entry['date']}, R not installed here"
    else:
        print("R DESeq2: not installed and no recorded time for this size")
        return
    print(f"R DESeq2 {version:<13s} {r_seconds:8.2f} s ({source})")
    print(f"ratio (ours / R)       {seconds / r_seconds:8.3f}")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
