"""Subcommands of the `infogap` CLI, one module per feature."""


def add_execution_options(parser, *, threads_type, executor_help: str) -> None:
    """Where and how runs execute: the same three flags on `run` and `sweep`."""
    parser.add_argument("--threads", metavar="N", type=threads_type,
                        help="numba threads inside each run (default 1; results are identical "
                        "for any N; at most the number of cores is used)")
    parser.add_argument("--executor", choices=("local", "dask"), default="local",
                        help=executor_help)
    parser.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address, e.g. "
                        "tcp://10.0.0.5:8786 (default: a LocalCluster on 127.0.0.1)")
