"""The `kgan-nas` command line: commands, parser and help, `finalize`, the console."""


def main(argv=None):
    """Runs `kgan-nas` with `argv` (default: `sys.argv[1:]`); returns the exit code.

    The commands are imported when called, so that `python -m kgan_nas.cli.commands`
    and `import kgan_nas.cli.console` do not load them first.
    """
    from kgan_nas.cli.commands import main as run_command

    return run_command(argv)
