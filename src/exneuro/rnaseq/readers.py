"""Count matrices in every common form -> one genes x samples integer matrix.

Every reader returns a :class:`CountTable`: ``counts`` (rows = genes indexed ``gene_id``,
columns = samples, int64), ``gene_names`` (gene_id -> symbol where the file has one), the file,
its format and ``notes`` — one sentence per silent-looking thing the reader did (rows dropped,
values rounded) so that the workflow can log it. Supported:

- featureCounts (Liao et al. 2014): a ``#`` command line, then ``Geneid Chr Start End Strand
  Length`` and one column per BAM file; the sample is taken from the BAM path by a regex
  (default: the file name up to its first dot, ``star/RNA01.markdup.sorted.bam`` -> ``RNA01``).
- nf-core/rnaseq merged counts (``salmon.merged.gene_counts.tsv``; also the STAR-RSEM and
  featureCounts merges of the pipeline): ``gene_id``, ``gene_name``, one column per sample.
  Salmon's values are *estimated* counts and not whole numbers. DESeq2 needs integers; its
  tximport route (``DESeqDataSetFromTximport``) rounds them, and so do we when
  ``round_estimated_counts`` is true (the default for this format) — the note says how many
  values were rounded. The average-transcript-length offset of the tximport route is not used
  (it needs ``salmon.merged.gene_lengths.tsv``); this matches ``DESeqDataSetFromMatrix(round(x))``
  as nf-core/differentialabundance does.
- HTSeq-count (Anders et al. 2015): one two-column file per sample; the summary rows
  (``__no_feature``, ``__ambiguous``, ``__too_low_aQual``, ``__not_aligned``,
  ``__alignment_not_unique``) are dropped and reported.
- A plain genes x samples table (CSV/TSV, optionally gzipped): the first column (or a named one)
  is the gene id; an optional gene name column; every other column is a sample.

The matrix is joined to the sample sheet by :func:`exneuro.rnaseq.samples.match_samples`; a
sequencing facility's precomputed DE tables are read by :mod:`exneuro.rnaseq.precomputed_de`.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from exneuro.errors import damaged_gzip_error, data_error

FEATURECOUNTS_ANNOTATION = ["Geneid", "Chr", "Start", "End", "Strand", "Length"]
HTSEQ_SUMMARY_PREFIX = "__"
DEFAULT_SAMPLE_REGEX = r"^(?:.*[/\\])?(?P<sample>[^/\\.]+)"
NFCORE_NAME_COLUMNS = ("gene_name", "gene_symbol", "symbol")
NA_TEXT = {"", "NA", "NaN", "nan", "N/A", "NULL", "null", "-"}
FORMATS = ("auto", "featurecounts", "nfcore", "htseq", "matrix")


@dataclass(frozen=True)
class CountTable:
    """A genes x samples integer count matrix and what the reader did to get it."""

    counts: pd.DataFrame
    gene_names: pd.Series
    path: str
    format: str
    notes: tuple[str, ...] = field(default_factory=tuple)


def _open_text(path: Path) -> list[str]:
    if not path.exists():
        raise data_error(str(path), "file not found", "check the counts path in the config")
    if path.suffix == ".gz":
        try:
            with gzip.open(path, "rt", encoding="utf-8-sig") as handle:
                return handle.read().splitlines()
        except (OSError, EOFError, zlib.error) as error:
            raise damaged_gzip_error(str(path), error) from None
    return path.read_text(encoding="utf-8-sig").splitlines()


def _read_text_table(
    path: Path, comment: str | None = None, header: bool = True
) -> tuple[pd.DataFrame, int]:
    """A delimited (optionally gzipped) table as text plus ``_line`` (its line in the file).

    Returns the table and the number of comment lines skipped at the top. The separator is a tab
    when the first data line has one, else a comma.
    """
    lines = _open_text(path)
    skipped = 0
    while comment and skipped < len(lines) and lines[skipped].startswith(comment):
        skipped += 1
    body = lines[skipped:]
    if not body or not body[0].strip():
        raise data_error(str(path), "the file has no table", "check that this is a count file")
    separator = "\t" if "\t" in body[0] else ","
    if header:
        names = [name.strip() for name in body[0].split(separator)]
        twice = [name for k, name in enumerate(names) if name in names[:k]]
        if twice:
            raise data_error(
                str(path),
                f"column '{twice[0]}' appears twice in the header",
                "each sample must be one column; rename or remove the duplicate",
                line=skipped + 1,
            )
    table = pd.read_csv(
        io.StringIO("\n".join(lines)),
        sep=separator,
        dtype=str,
        keep_default_na=False,
        skiprows=skipped,
        header=0 if header else None,
        skip_blank_lines=False,
    )
    table.columns = [str(c).strip() for c in table.columns]
    table["_line"] = np.arange(len(table)) + skipped + (2 if header else 1)
    blank = (table.drop(columns="_line") == "").all(axis=1)
    return table.loc[~blank].reset_index(drop=True), skipped


def check_gene_ids(table: pd.DataFrame, column: str, path: str) -> None:
    """Stop on an empty or duplicated gene id, naming its line(s) and how many are duplicated."""
    ids = table[column].str.strip()
    if (ids == "").any():
        first = int(np.argmax((ids == "").to_numpy()))
        raise data_error(
            path,
            "empty gene id",
            "every row needs a gene id",
            line=int(table["_line"].iloc[first]),
            column=column,
        )
    duplicated = ids.duplicated(keep=False)
    if duplicated.any():
        gene = ids[duplicated].iloc[0]
        lines = table.loc[ids == gene, "_line"].astype(int).tolist()
        raise data_error(
            path,
            f"gene id '{gene}' appears {len(lines)} times (lines {', '.join(map(str, lines))})"
            f"; {int(ids[duplicated].nunique())} gene id(s) are duplicated",
            "each gene must be one row: sum or remove duplicated rows before the analysis",
            column=column,
        )


def _parse_counts(
    table: pd.DataFrame,
    sample_columns: Sequence[str],
    gene_column: str,
    path: str,
    *,
    round_estimated: bool,
) -> tuple[pd.DataFrame, list[str]]:
    """Text cells -> int64 counts; non-numbers, negatives and (unless rounding) fractions fail."""
    text = table[list(sample_columns)].apply(lambda column: column.str.strip())
    values = text.apply(pd.to_numeric, errors="coerce").to_numpy(float)
    genes = table[gene_column].str.strip().to_numpy()
    lines = table["_line"].to_numpy()

    def fail(mask: np.ndarray, problem: str, fix: str) -> None:
        row, col = np.argwhere(mask)[0]
        found = problem.format(text.iat[row, col])
        raise data_error(
            path,
            f"gene '{genes[row]}', sample '{sample_columns[col]}': {found}"
            f" ({int(mask.sum())} such value(s) in the file)",
            fix,
            line=int(lines[row]),
            column=sample_columns[col],
        )

    bad = ~np.isfinite(values)
    if bad.any():
        fail(bad, "'{}' is not a count", "counts must be plain non-negative whole numbers")
    if (values < 0).any():
        fail(values < 0, "negative count {}", "read counts cannot be negative; check the file")
    notes = []
    fractional = values != np.round(values)
    if fractional.any():
        if not round_estimated:
            fail(
                fractional,
                "'{}' is not a whole number of reads",
                "DESeq2 needs integer counts: give raw counts, or set round_estimated_counts: "
                "true for salmon/RSEM estimated counts",
            )
        notes.append(
            f"{path}: rounded {int(fractional.sum())} of {values.size} estimated counts to "
            "whole numbers (as DESeq2's tximport route does)"
        )
        values = np.round(values)
    counts = pd.DataFrame(
        values.astype(np.int64),
        index=pd.Index(genes, name="gene_id"),
        columns=pd.Index([str(s) for s in sample_columns], name="sample"),
    )
    return counts, notes


def _check_sample_names(names: Sequence[str], path: str, where: str) -> None:
    series = pd.Series(list(names))
    if (series == "").any():
        raise data_error(path, f"an empty sample name ({where})", "name every sample")
    duplicated = series[series.duplicated()]
    if len(duplicated):
        raise data_error(
            path,
            f"sample '{duplicated.iloc[0]}' appears twice ({where})",
            "each sample must be one column; rename or remove the duplicate",
        )


def sample_from_path(text: str, regex: str = DEFAULT_SAMPLE_REGEX, path: str = "") -> str:
    """The sample name in a BAM or count-file path: the regex's ``sample`` group (or its first
    group, or the whole match). The default takes the file name up to its first dot."""
    match = re.search(regex, text)
    if not match:
        raise data_error(
            path,
            f"cannot find a sample name in '{text}' with the regex '{regex}'",
            "fix sample_regex in the config (one group capturing the sample name)",
        )
    if "sample" in match.groupdict():
        return match.group("sample")
    return match.group(1) if match.groups() else match.group(0)


def read_featurecounts(path: str | Path, sample_regex: str = DEFAULT_SAMPLE_REGEX) -> CountTable:
    """Read a featureCounts table; samples are named from the BAM paths by ``sample_regex``."""
    path = Path(path)
    table, _ = _read_text_table(path, comment="#")
    missing = [c for c in FEATURECOUNTS_ANNOTATION if c not in table.columns]
    if missing:
        raise data_error(
            str(path),
            f"not a featureCounts table: no column(s) {', '.join(missing)}",
            "give the featureCounts output itself (not its .summary), or set format: matrix",
        )
    bam_columns = [c for c in table.columns if c not in FEATURECOUNTS_ANNOTATION + ["_line"]]
    if not bam_columns:
        raise data_error(str(path), "no sample (BAM) columns", "check the featureCounts call")
    samples = [sample_from_path(c, sample_regex, str(path)) for c in bam_columns]
    _check_sample_names(
        samples, str(path), f"sample names from the BAM columns by '{sample_regex}'"
    )
    check_gene_ids(table, "Geneid", str(path))
    counts, notes = _parse_counts(table, bam_columns, "Geneid", str(path), round_estimated=False)
    counts.columns = pd.Index(samples, name="sample")
    names = pd.Series(counts.index, index=counts.index, name="gene_name")
    return CountTable(counts, names, str(path), "featurecounts", tuple(notes))


def read_nfcore_counts(path: str | Path, round_estimated_counts: bool = True) -> CountTable:
    """Read nf-core/rnaseq's ``*.merged.gene_counts.tsv`` (gene_id, gene_name, samples).

    Salmon's estimated counts are rounded to integers when ``round_estimated_counts`` (see the
    module docstring); otherwise a fraction is an error naming its gene and sample.
    """
    path = Path(path)
    table, _ = _read_text_table(path)
    if "gene_id" not in table.columns:
        raise data_error(
            str(path),
            "no column 'gene_id'",
            "give nf-core's merged gene counts (gene_id, gene_name, samples) or set format",
        )
    name_column = next((c for c in NFCORE_NAME_COLUMNS if c in table.columns), None)
    samples = [c for c in table.columns if c not in ("gene_id", name_column, "_line")]
    _check_sample_names(samples, str(path), "header")
    check_gene_ids(table, "gene_id", str(path))
    counts, notes = _parse_counts(
        table, samples, "gene_id", str(path), round_estimated=round_estimated_counts
    )
    names = (
        pd.Series(table[name_column].str.strip().to_numpy(), index=counts.index, name="gene_name")
        if name_column
        else pd.Series(counts.index, index=counts.index, name="gene_name")
    )
    return CountTable(counts, names, str(path), "nfcore", tuple(notes))


def read_htseq_counts(
    paths: Mapping[str, str | Path] | Sequence[str | Path],
    sample_regex: str = DEFAULT_SAMPLE_REGEX,
) -> CountTable:
    """Read one HTSeq-count file per sample into one matrix.

    ``paths`` maps sample -> file, or lists files (samples then come from the file names by
    ``sample_regex``). The ``__`` summary rows are dropped and their totals reported in the
    notes. Every file must list the same genes in the same order (HTSeq writes them from the same
    annotation); a file that does not is named with its first differing gene.
    """
    if not isinstance(paths, Mapping):
        paths = {sample_from_path(str(p), sample_regex, str(p)): p for p in paths}
    if not paths:
        raise data_error("htseq counts", "no files given", "list one HTSeq-count file per sample")
    _check_sample_names(list(paths), "htseq counts", "from the file names")
    columns, genes, summary = {}, None, {}
    first_path = ""
    for sample, file in paths.items():
        table, _ = _read_text_table(Path(file), header=False)
        if table.shape[1] != 3:
            raise data_error(
                str(file),
                f"{table.shape[1] - 1} columns, expected 2 (gene, count)",
                "give HTSeq-count's output (no header, tab-separated)",
            )
        table.columns = ["gene_id", "count", "_line"]
        is_summary = table["gene_id"].str.startswith(HTSEQ_SUMMARY_PREFIX)
        summary[sample] = int(pd.to_numeric(table.loc[is_summary, "count"], errors="coerce").sum())
        table = table.loc[~is_summary].reset_index(drop=True)
        check_gene_ids(table, "gene_id", str(file))
        ids = table["gene_id"].str.strip().to_numpy()
        if genes is None:
            genes, first_path = ids, str(file)
        elif len(ids) != len(genes) or (ids != genes).any():
            n = min(len(ids), len(genes))
            position = int(np.argmax(ids[:n] != genes[:n])) if (ids[:n] != genes[:n]).any() else n
            gene = ids[position] if position < len(ids) else "(end of file)"
            raise data_error(
                str(file),
                f"gene list differs from {first_path} at gene {position + 1} ('{gene}')",
                "count every sample against the same annotation",
            )
        counts, _ = _parse_counts(table, ["count"], "gene_id", str(file), round_estimated=False)
        columns[sample] = counts["count"]
    counts = pd.DataFrame(columns)
    counts.index.name, counts.columns.name = "gene_id", "sample"
    names = pd.Series(counts.index, index=counts.index, name="gene_name")
    note = "HTSeq-count: dropped the __ summary rows (reads not counted: " + ", ".join(
        f"{s} {n}" for s, n in summary.items()
    )
    return CountTable(counts, names, first_path, "htseq", (note + ")",))


def read_count_matrix(
    path: str | Path,
    gene_id_column: str | None = None,
    gene_name_column: str | None = None,
    round_estimated_counts: bool = False,
) -> CountTable:
    """Read a plain genes x samples table: a gene id column (default the first), an optional
    gene name column, every other column a sample."""
    path = Path(path)
    table, _ = _read_text_table(path)
    columns = [c for c in table.columns if c != "_line"]
    gene_id_column = gene_id_column or columns[0]
    for role, column in (
        ("gene_id_column", gene_id_column),
        ("gene_name_column", gene_name_column),
    ):
        if column is not None and column not in columns:
            raise data_error(
                str(path),
                f"no column '{column}' (configured as {role})",
                f"columns found: {', '.join(columns[:8])}; fix the column name in the config",
            )
    samples = [c for c in columns if c not in (gene_id_column, gene_name_column)]
    if not samples:
        raise data_error(str(path), "no sample columns", "one column per sample is expected")
    _check_sample_names(samples, str(path), "header")
    check_gene_ids(table, gene_id_column, str(path))
    counts, notes = _parse_counts(
        table, samples, gene_id_column, str(path), round_estimated=round_estimated_counts
    )
    names = (
        pd.Series(table[gene_name_column].str.strip().to_numpy(), index=counts.index)
        if gene_name_column
        else pd.Series(counts.index, index=counts.index)
    ).rename("gene_name")
    return CountTable(counts, names, str(path), "matrix", tuple(notes))


def detect_format(path: str | Path) -> str:
    """Guess the format of one count file from its first lines."""
    lines = _open_text(Path(path))[:3]
    head = lines[0] if lines else ""
    if head.startswith("#") and len(lines) > 1 and lines[1].startswith("Geneid"):
        return "featurecounts"
    if head.startswith("Geneid\tChr"):
        return "featurecounts"
    fields = re.split(r"[\t,]", head)
    if fields and fields[0] == "gene_id" and len(fields) > 1 and fields[1] in NFCORE_NAME_COLUMNS:
        return "nfcore"
    if len(fields) == 2 and fields[1].strip().isdigit():
        return "htseq"
    return "matrix"


def read_counts(
    path: str | Path | Sequence[str | Path] | Mapping[str, str | Path],
    format: str = "auto",
    *,
    sample_regex: str = DEFAULT_SAMPLE_REGEX,
    round_estimated_counts: bool | None = None,
    gene_id_column: str | None = None,
    gene_name_column: str | None = None,
) -> CountTable:
    """Read counts in any supported ``format`` ('auto' guesses from the first lines).

    ``round_estimated_counts`` defaults to true for nf-core merged counts (salmon) and false
    otherwise; HTSeq takes a list of files or a sample -> file mapping.
    """
    if format not in FORMATS:
        raise data_error(
            str(path), f"unknown counts format '{format}'", f"use one of {', '.join(FORMATS)}"
        )
    if isinstance(path, Mapping) or (
        isinstance(path, Sequence) and not isinstance(path, str | Path)
    ):
        return read_htseq_counts(path, sample_regex)
    if format == "auto":
        format = detect_format(path)
    if format == "featurecounts":
        return read_featurecounts(path, sample_regex)
    if format == "nfcore":
        return read_nfcore_counts(
            path, True if round_estimated_counts is None else round_estimated_counts
        )
    if format == "htseq":
        return read_htseq_counts([path], sample_regex)
    return read_count_matrix(path, gene_id_column, gene_name_column, bool(round_estimated_counts))


def read_gene_names(
    path: str | Path, id_column: str = "gene_id", name_column: str = "gene_name"
) -> pd.Series:
    """gene_id -> gene name from any table that has both (e.g. nf-core's merged counts or
    ``tx2gene.tsv``), for count formats without names (featureCounts, HTSeq)."""
    table, _ = _read_text_table(Path(path))
    for role, column in (("id_column", id_column), ("name_column", name_column)):
        if column not in table.columns:
            raise data_error(
                str(path),
                f"no column '{column}' (configured as {role})",
                "fix the gene annotation columns in the config",
            )
    table = table.drop_duplicates(id_column)
    return pd.Series(
        table[name_column].str.strip().to_numpy(),
        index=pd.Index(table[id_column].str.strip().to_numpy(), name="gene_id"),
        name="gene_name",
    )
