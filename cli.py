#!/usr/bin/env python3
"""Run searchlib from a checkout, without installing it: python cli.py search "victimes"."""

from searchlib.cli import main

if __name__ == "__main__":
    main()
