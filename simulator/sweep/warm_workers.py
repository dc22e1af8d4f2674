"""Imported for its effect by the forkserver that local workers are forked from
(`executors.WORKER_PRELOAD`): what a run needs is imported, and the compiled kernels
loaded, once there, so each worker forked from it starts ready. Spawned workers would
each pay for it: 0.3 s of imports and 0.15 s of warm-up."""

from .work import warm_up

warm_up()
