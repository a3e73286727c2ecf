"""Config and sample-sheet loading, each rule's share of the config (its params, from the
schema's x-read-by lists), and the input functions the rules share."""

import json

from exneuro.config_keys import (
    SCHEMA_FILE,
    analysis_part,
    key_owners,
    owned_part,
    owned_table,
)
from exneuro.config_files import config_label, merge_included
from exneuro.config import (
    ConfigError,
    load_yaml,
    modality_cohorts,
    groups_in_cohort_order,
    read_sample_sheet,
    table_design,
    validate_config,
)
from exneuro.errors import ExneuroError
from exneuro.figures.registry import PANEL_TYPES
from exneuro.paper.catalogue import figure_inputs
from exneuro.photometry.recordings_sheet import read_recordings, session_records
from exneuro.code_digest import library_digest, script_digest
from exneuro.workflow import in_report, report_files
from exneuro.yaml_files import shown_path

SCHEMAS = Path(workflow.basedir) / "workflow" / "schemas"
CONFIG_SOURCE = shown_path(
    (workflow.overwrite_configfiles or ["config/config.yaml"])[-1]
)

CONFIG_SCHEMA = load_yaml(SCHEMAS / "config.schema.yaml")
#: Config key -> the rules that read it (the schema's x-read-by lists).
OWNERS = key_owners(CONFIG_SCHEMA)

try:
    # the files the config includes (study, analysis, paper) merged into it, in place: the
    # report reads the merged config too
    CONFIG_FILES = merge_included(config, CONFIG_SOURCE)
    config = validate_config(config, CONFIG_SCHEMA, config_label(CONFIG_FILES))
    SAMPLES = read_sample_sheet(
        config.get("samples"), load_yaml(SCHEMAS / "samples.schema.yaml"), config
    )
except ConfigError as error:
    sys.exit(f"Error: {error}")

OUT = config["output_dir"]
#: The user's sample sheet, named in messages (jobs read the validated copy in OUT/config).
SHEET_PATH = config.get("samples")
COHORTS = [cohort["id"] for cohort in config["cohorts"]]
TREADMILL_ON = bool(config.get("treadmill")) and config["treadmill"]["enabled"]
TREADMILL_COHORTS = modality_cohorts(config, "treadmill") if TREADMILL_ON else []


def section_on(section):
    """Whether an optional analysis section is in the config and enabled."""
    return bool(config.get(section)) and config[section].get("enabled", True)


EPHYS_ON = section_on("ephys")
SPINES_ON = section_on("spines")
HISTOLOGY_ON = section_on("histology")
RNASEQ_ON = section_on("rnaseq") and bool(config["rnaseq"]["counts"])
RNASEQ_CONTRASTS = (
    [c["name"] for c in config["rnaseq"]["contrasts"]] if RNASEQ_ON else []
)
FACILITY_DE = list(config["rnaseq"]["precomputed_de"]) if section_on("rnaseq") else []


PHOTOMETRY_ON = section_on("photometry")
try:
    RECORDINGS = (
        session_records(
            read_recordings(
                config["photometry"]["recordings"],
                config["photometry"]["recording_columns"],
                SAMPLES,
                config["photometry"]["cohort"],
                config["photometry"]["typed_events"],
            )
        )
        if PHOTOMETRY_ON
        else {}
    )
except ExneuroError as error:
    sys.exit(f"Error: {error}")
PHOTOMETRY_SESSIONS = list(RECORDINGS)

TABLES = list(config["tables"])


wildcard_constraints:
    cohort="|".join(COHORTS),
    table="|".join(TABLES) or "no-table",
    session="[^/]+",


def owned(step, section):
    """The part of config key ``section`` that rule ``step`` reads, as the schema's x-read-by
    lists say (see exneuro.config_keys): a changed key reruns exactly the rules that read it.
    """
    return owned_part(config, OWNERS, step, section)


def reads(step, *keys):
    """Check that step ``step`` owns ``keys`` (a param derived from them: a cohort entry)."""
    for key in keys:
        if step not in OWNERS[key]:
            sys.exit(
                f"{SCHEMA_FILE}: rule '{step}' reads '{key}', whose x-read-by omits it"
            )


def sample_sheet_input(wildcards):
    """The sample sheet, when the study has one (a tables-only study may not)."""
    return {"samples": config["samples"]} if config.get("samples") else {}


def sheet_params():
    """The part of the config the sample sheet is validated against."""
    step = "validated_samples"
    return {key: owned(step, key) for key in ("cohorts", "groups")} | {
        "treadmill": dict(owned(step, "treadmill")) if TREADMILL_ON else {}
    }


def section_params(step, section):
    """The keys of one analysis section that rule ``step`` reads ({} when it is off)."""
    return owned(step, section) if section_on(section) else {}


def photometry_session_settings(step="photometry_session"):
    """The settings one recording's job reads; with an NWB export, the subject's species and
    the study's word for one animal."""
    settings = dict(section_params(step, "photometry"))
    if settings.get("export_nwb"):
        study = owned(step, "study")
        settings["nwb_subject"] = {
            "species": study["species"],
            "animal": study["animal"]["singular"],
        }
    return settings


#: The settings one recording's job reads, serialized once (10,000 jobs share them).
PHOTOMETRY_SESSION_SETTINGS = json.dumps(photometry_session_settings(), sort_keys=True)


def section_groups(step, section):
    """The config's groups with the section's cohort first, its control group leading."""
    reads(step, "groups", "cohorts", f"{section}.cohort")
    cohort = config[section]["cohort"] if section_on(section) else None
    return groups_in_cohort_order(config, cohort)


def section_cohort(step, section):
    """The cohort entry (groups, control group) an analysis section names."""
    reads(step, "cohorts", f"{section}.cohort")
    if not section_on(section):
        return {}
    return next(c for c in config["cohorts"] if c["id"] == config[section]["cohort"])


def ephys_inputs(wildcards):
    """The exported electrophysiology tables the config names."""
    keys = ["step_table", "cell_properties", "sepsc_events", "sepsc_recordings"]
    return [config["ephys"][key] for key in keys if config["ephys"].get(key)]


def section_files(section, keys):
    """The files of a section's keys that the config sets (an input list for its rule)."""
    if not section_on(section):
        return []
    return [config[section][key] for key in keys if config[section].get(key)]


def facility_de_files(wildcards):
    """The facility DE tables the config names."""
    return [entry["path"] for entry in config["rnaseq"]["precomputed_de"].values()]


def ephys_abf_files(wildcards):
    """Every .abf file present at the configured pattern."""
    settings = config["ephys"].get("abf")
    if not settings:
        return []
    found = glob_wildcards(settings["files"])
    return sorted(expand(settings["files"], zip, mouse=found.mouse, cell=found.cell))


def figure_files(stem, caption, category):
    """The figure in every configured format, one of them shown in the report."""
    return report_files(stem, config["figures"]["formats"], caption, category)


def script_code(script):
    """The digest of the code a rule's script runs: the script, every library module it can
    import (found by reading the source: exneuro.code_digest) and the package data they read.
    ``script`` as the rule's ``script:`` names it (relative to the rule file), or absolute. A
    params entry, so that an edit reruns exactly the jobs that run the edited code.
    """
    path = Path(workflow.current_basedir.get_path_or_uri(True)) / script
    if not path.is_file():
        sys.exit(f'Error: script_code("{script}"): there is no file {shown_path(path)}')
    return script_digest(path)


def library_code():
    """The digest of the whole library, as the provenance table records it."""
    return library_digest()


def check_code_digests(rules):
    """Stop, naming the step and the fix, when a step that runs a script (its ``script``, or
    the ``params.script`` its shell command runs) does not pass that script's digest as
    ``code``: a copied step keeping another script's digest would not rerun when its own code
    changes.
    """
    for step in rules:
        script = step.script or getattr(step.params, "script", None)
        if script is None:
            continue
        # a script: is found from the rule file, a shell command's script from the working folder
        folder = Path(step.basedir.get_path_or_uri(True)) if step.script else Path()
        if getattr(step.params, "code", None) != script_digest(folder / script):
            sys.exit(
                f"Error: {shown_path(step.snakefile)}: rule '{step.name}' runs {script} but "
                "its params do not pass its code digest"
                f': add code=script_code("{script}")'
            )


def cohort_config(wildcards):
    """The config entry of the cohort in the job's wildcards (a param of rules owning cohorts)."""
    return next(c for c in config["cohorts"] if c["id"] == wildcards.cohort)


def treadmill_stage_logs(wildcards):
    """Every stage log present at the configured path pattern (none when there is no pattern)."""
    pattern = config["treadmill"].get("stage_logs")
    if not pattern or config["treadmill"]["metrics_source"] != "stage_logs":
        return []
    found = glob_wildcards(pattern)
    return sorted(expand(pattern, zip, mouse=found.mouse, session=found.session))


def photometry_session_files(wildcards):
    """The raw file (and TTL file) of the session in the job's wildcards."""
    row = RECORDINGS[wildcards.session]
    return {"raw": row["file"], "ttl": [row["ttl_file"]] if row["ttl_file"] else []}


def photometry_session_params(wildcards):
    """The params of one recording's job as a JSON object: its recordings-sheet row and the
    settings it reads (a change to either reruns it). The settings are serialized once.
    """
    row = json.dumps(RECORDINGS[wildcards.session], sort_keys=True)
    return f'{{"recording": {row}, "settings": {PHOTOMETRY_SESSION_SETTINGS}}}'


def photometry_batch_files(members):
    """The raw files (and TTL files) of a batch's recordings."""
    rows = [RECORDINGS[session] for session in members]
    return [row["file"] for row in rows] + [
        row["ttl_file"] for row in rows if row["ttl_file"]
    ]


def photometry_batch_params(members):
    """The params of a batch's job as a JSON object: its recordings' rows and the settings they
    read (a change to either reruns the batch, and only it)."""
    rows = ", ".join(json.dumps(RECORDINGS[s], sort_keys=True) for s in members)
    return f'{{"recordings": [{rows}], "settings": {PHOTOMETRY_SESSION_SETTINGS}}}'


def photometry_session_folders(wildcards):
    """The output folder of every session in the recordings sheet."""
    return [f"{OUT}/photometry/sessions/{session}" for session in PHOTOMETRY_SESSIONS]


def raw_inputs(wildcards):
    """Every raw file the config points the workflow at (for the provenance table), except the
    photometry recordings: each recording's job hashes its own file while reading it, so that
    a study of 10,000 recordings is neither read twice nor given 10,000 more DAG inputs.
    """
    # the config itself is snapshotted in config/config.yaml
    files = [config["samples"]] if config.get("samples") else []
    if TREADMILL_ON:
        files += [
            config["treadmill"]["summary_table"],
            *treadmill_stage_logs(wildcards),
        ]
    if EPHYS_ON:
        files += ephys_inputs(wildcards) + ephys_abf_files(wildcards)
    files += section_files("spines", ["segment_table", "spine_table"])
    files += section_files("histology", ["section_table"])
    files += section_files("rnaseq", ["counts", "gene_sets", "gene_annotation"])
    if FACILITY_DE:
        files += facility_de_files(wildcards)
    files += [config["tables"][table]["file"] for table in TABLES]
    if PHOTOMETRY_ON:  # the recordings themselves are hashed by their own jobs
        files.append(config["photometry"]["recordings"])
    return sorted({str(path) for path in files})


def table_declaration(step):
    """An input function: the declaration of the job's table as rule ``step`` reads it, with the
    study's group order (control groups first) for a factor whose levels are groups."""
    reads(step, "groups", "cohorts")

    def declaration(wildcards):
        design = table_design(config, wildcards.table)
        return owned_table(design, OWNERS, step, wildcards.table)

    return declaration


def declared_table_file(wildcards):
    """The lab's file of the declared table in the job's wildcards."""
    return config["tables"][wildcards.table]["file"]


#: Analysis sections with one statistics table and one figure each.
SECTIONS_ON = {
    "photometry": PHOTOMETRY_ON,
    "ephys": EPHYS_ON,
    "spines": SPINES_ON,
    "histology": HISTOLOGY_ON,
    "rnaseq": RNASEQ_ON,
}


def statistics_parts():
    """Every per-analysis statistics table that feeds the study's one statistics table."""
    parts = expand(f"{OUT}/tables/{{table}}/statistics.tsv", table=TABLES)
    if TREADMILL_ON:
        parts += expand(
            f"{OUT}/treadmill/{{cohort}}/statistics.tsv", cohort=TREADMILL_COHORTS
        )
    parts += [f"{OUT}/{name}/statistics.tsv" for name, on in SECTIONS_ON.items() if on]
    if FACILITY_DE:
        parts.append(f"{OUT}/rnaseq/facility/statistics.tsv")
    return parts


def analysis_config():
    """The config as the snapshot records it: every key but figure style and layout (recorded by
    the figure jobs themselves, so that a style-only change reruns figures alone)."""
    return analysis_part(config, OWNERS)


PAPER_FIGURES = {figure["id"]: figure for figure in config["paper"]["figures"]}


def paper_figure_inputs(wildcards):
    """The result tables the panels of the job's figure read."""
    return [f"{OUT}/{path}" for path in figure_inputs(PAPER_FIGURES[wildcards.figure])]


def paper_settings(wildcards):
    """Groups, cohorts and the analysis sections the job's figure draws from (only those, so
    that editing another section does not re-render it)."""
    step = "paper_figure"
    sections = {
        PANEL_TYPES[p["plot"]].section
        for p in PAPER_FIGURES[wildcards.figure]["panels"]
    }
    settings = {key: owned(step, key) for key in ("groups", "cohorts")}
    for name in sorted(sections - {"tables"}):
        if name in config:
            settings[name] = owned(step, name)
    settings["animal"] = owned(step, "study")["animal"]
    # each table with the study's group order, as its own figure draws it
    if "tables" in sections and "tables" in config:
        settings["tables"] = {
            key: owned_table(table_design(config, key), OWNERS, step, key)
            for key in config["tables"]
        }
    return settings


def all_outputs():
    """Everything `rule all` asks for, from the analyses enabled in the config."""
    formats = config["figures"]["formats"]
    targets = [
        f"{OUT}/statistics/statistics.tsv",
        f"{OUT}/config/config.yaml",
        f"{OUT}/provenance/inputs.tsv",
    ]
    if TREADMILL_ON:
        targets += expand(
            f"{OUT}/figures/treadmill/{{cohort}}.{{fmt}}",
            cohort=TREADMILL_COHORTS,
            fmt=formats,
        )
        targets += expand(
            f"{OUT}/treadmill/{{cohort}}/adaptation.tsv", cohort=TREADMILL_COHORTS
        )
    for name, on in SECTIONS_ON.items():
        if on:
            targets += expand(f"{OUT}/figures/{name}/{name}.{{fmt}}", fmt=formats)
    if RNASEQ_ON:
        targets += expand(f"{OUT}/figures/rnaseq/qc.{{fmt}}", fmt=formats)
    if FACILITY_DE:
        targets.append(f"{OUT}/figures/rnaseq/facility")
    targets += expand(
        f"{OUT}/figures/tables/{{table}}.{{fmt}}", table=TABLES, fmt=formats
    )
    targets += expand(f"{OUT}/paper/{{figure}}_legend.md", figure=PAPER_FIGURES)
    return targets + every_job_output()


def every_job_output():
    """Every output of every job the study runs (but the photometry batches, whose folders the
    combining job reads), asked for by `rule all` so that the same command rebuilds any one of
    them found missing. Snakemake reruns a job for a missing output only when a job or `rule all`
    asks for that file; a job stopped by a folder turned read-only can leave some outputs written
    and not others, which Snakemake then cannot remove."""
    steps = {"validated_samples": {}, "config_snapshot": {}, "statistics_table": {}}
    steps |= {"provenance": {}, "paper_figure": {"figure": list(PAPER_FIGURES)}}
    steps |= {name: {"table": TABLES} for name in ("table_statistics", "table_figure")}
    if TREADMILL_ON:
        steps["treadmill_metrics"] = {}
        steps |= {
            name: {"cohort": TREADMILL_COHORTS}
            for name in ("treadmill_statistics", "treadmill_figure")
        }
    sections = {
        "photometry": [
            "photometry_combine",
            "photometry_statistics",
            "photometry_figure",
        ],
        "ephys": ["ephys_tables", "ephys_statistics", "ephys_figure"],
        "spines": ["spine_tables", "spine_statistics", "spine_figure"],
        "histology": ["histology", "histology_figure"],
        "rnaseq": [
            "rnaseq_qc",
            "rnaseq_qc_figure",
            "rnaseq_de",
            "rnaseq_summary",
            "rnaseq_figure",
        ],
    }
    for name, on in SECTIONS_ON.items():
        if on:
            steps |= {step: {} for step in sections[name]}
    if FACILITY_DE:
        steps |= {"rnaseq_facility": {}, "rnaseq_facility_figure": {}}
    return [
        path
        for step, wildcards in steps.items()
        for path in expand([str(f) for f in getattr(rules, step).output], **wildcards)
    ]
