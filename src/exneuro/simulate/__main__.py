"""Write a simulated study where a config expects it.

Usage: python -m exneuro.simulate DESIGN CONFIG   (DESIGN: example or two_group)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from exneuro.config import load_yaml, validate_config
from exneuro.simulate.design import DESIGNS
from exneuro.simulate.study import write_study

SCHEMA = Path("workflow/schemas/config.schema.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("design", choices=sorted(DESIGNS))
    parser.add_argument("config", help="the study config that says where each file goes")
    args = parser.parse_args()
    config = validate_config(load_yaml(args.config), load_yaml(SCHEMA), args.config)
    truth = write_study(DESIGNS[args.design], config)
    print(f"wrote the '{args.design}' study: sample sheet {truth['samples']}")


if __name__ == "__main__":
    main()
