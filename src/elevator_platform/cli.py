"""The `elevator` command: one entry point, one sub-command per task.

Each sub-command lives in its own module exposing `add_parser(subparsers)`
which registers the parser and sets `func`; this file only lists them.
"""
import argparse
import importlib
import sys

# module name in elevator_platform -> sub-command(s) it registers
COMMANDS = [
    'importer',
    'demo_data',
    'iot.bridge',
    'iot.broker_acl',
    'iot.simulator',
    'iot.embedded_broker',
    'backup',
    'report_cli',
    'call_simulator',
    ]


def build_parser():
    parser = argparse.ArgumentParser(prog='elevator',
        description="Putian elevator safety platform tools")
    subparsers = parser.add_subparsers(dest='command', required=True)
    for name in COMMANDS:
        module = importlib.import_module(f'elevator_platform.{name}')
        module.add_parser(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args) or 0


if __name__ == '__main__':
    sys.exit(main())
