"""Write the validated config, defaults filled in, beside the results it produced."""

from pathlib import Path

import yaml

from exneuro.workflow import run


def main(snakemake):
    text = yaml.safe_dump(dict(snakemake.params.config), sort_keys=False, allow_unicode=True)
    Path(snakemake.output[0]).write_text(text, encoding="utf-8")


run(snakemake, main)
