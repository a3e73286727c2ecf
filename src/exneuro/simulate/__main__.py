"""Write a simulated study where a config expects it, or a full-size study of any size.

Usage:
  python -m exneuro.simulate DESIGN CONFIG        (DESIGN: example or two_group)
  python -m exneuro.simulate scaled FOLDER [--mice 24 --sessions 8 --minutes 90 --rate 1000
                                            --genes 20000 --jobs 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from exneuro.config import load_yaml, validate_config
from exneuro.config_files import load_config
from exneuro.simulate.design import DESIGNS
from exneuro.simulate.scale import write_scale_study
from exneuro.simulate.study import write_study

SCHEMA = Path("workflow/schemas/config.schema.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("design", choices=[*sorted(DESIGNS), "scaled"])
    parser.add_argument("target", help="the study config (a design) or the folder (scaled)")
    parser.add_argument("--mice", type=int, default=24, help="photometry mice (scaled)")
    parser.add_argument("--sessions", type=int, default=8, help="recordings per mouse (scaled)")
    parser.add_argument("--minutes", type=float, default=90.0, help="recording length (scaled)")
    parser.add_argument("--rate", type=float, default=1000.0, help="sampling rate, Hz (scaled)")
    parser.add_argument("--genes", type=int, default=20000, help="RNA-seq genes (scaled)")
    parser.add_argument("--jobs", type=int, default=1, help="processes for the recordings")
    args = parser.parse_args()
    if args.design == "scaled":
        config = write_scale_study(
            args.target, args.mice, args.sessions, args.minutes, args.rate, args.genes, args.jobs
        )
        print(f"wrote the scaled study: run it with --configfile {config}")
        return
    config = validate_config(load_config(args.target), load_yaml(SCHEMA), args.target)
    truth = write_study(DESIGNS[args.design], config, jobs=args.jobs)
    print(f"wrote the '{args.design}' study: sample sheet {truth['samples']}")


if __name__ == "__main__":
    main()
