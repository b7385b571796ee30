"""From each rank's metrics to the node's (pure): what a synchronous training step sees.

Every step waits for the slowest rank, so the node delivers ranks x the slowest rank's rate; CPU,
memory and the worker processes add up over the ranks. Runnable threads against usable cores say
whether the ranks' loaders oversubscribe the machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from dltune.model import ConfigStat, LoaderConfig, Metrics, NodePlan, RunResult, TrialResult
from dltune.model.node import NodeFigures, NodeSection, RankResult
from dltune.units import human_bytes


def node_figures(
    ranks: list[RankResult], config: LoaderConfig, nproc_per_node: int, usable_cores: int
) -> tuple[Metrics, NodeFigures]:
    """The run's headline metrics (world size x the slowest rank, sums of CPU and memory) and the node's
    figures. Every rank in ``ranks`` must carry metrics."""
    measured = [r for r in ranks if r.metrics is not None]
    if not measured or len(measured) != len(ranks):
        raise ValueError("every rank needs metrics to compute the node's figures")

    def rate(r: RankResult) -> float:
        return r.metrics.samples_per_s if r.metrics else 0.0

    world = len(ranks)
    slowest = min(measured, key=rate)
    fastest = max(measured, key=rate)
    sm = slowest.metrics
    assert sm is not None
    ms = [r.metrics for r in measured if r.metrics is not None]
    headline = replace(
        sm,
        samples_per_s=world * sm.samples_per_s,
        samples_per_s_low=world * sm.samples_per_s_low,
        samples_per_s_high=world * sm.samples_per_s_high,
        batches_per_s=world * sm.batches_per_s,
        bytes_per_s=world * sm.bytes_per_s,
        first_batch_s=max(m.first_batch_s for m in ms),
        wait_p50_ms=max(m.wait_p50_ms for m in ms),
        wait_p90_ms=max(m.wait_p90_ms for m in ms),
        wait_p99_ms=max(m.wait_p99_ms for m in ms),
        cpu_main_pct=sum(m.cpu_main_pct for m in ms),
        cpu_workers_pct=sum(m.cpu_workers_pct for m in ms),
        peak_pss_main=sum(m.peak_pss_main for m in ms),
        peak_pss_workers=sum(m.peak_pss_workers for m in ms),
        batches=sum(m.batches for m in ms),
        samples=sum(m.samples for m in ms),
        window_s=max(m.window_s for m in ms),
    )
    nodes = sorted({r.node for r in ranks})
    sections = []
    for n in nodes:
        mine = [r for r in measured if r.node == n]
        low = min(mine, key=rate)
        sections.append(
            NodeSection(
                node=n,
                host=low.host,
                ranks=tuple(sorted(r.rank for r in mine)),
                samples_per_s=len(mine) * rate(low),
                slowest_rank=low.rank,
            )
        )
    workers = config.num_workers
    threads_each = config.threads or 1
    processes = nproc_per_node * (1 + workers)
    threads = processes * threads_each
    batch_bytes = sum(m.batch_bytes for m in ms) / len(ms)
    in_flight = workers * (config.prefetch_factor or 2) if workers else 0
    per_node = max(1, len(measured) // max(1, len(nodes)))
    figures = NodeFigures(
        nproc_per_node=nproc_per_node,
        nnodes=len(nodes),
        world_size=world,
        slowest_rank=slowest.rank,
        straggler_spread=(rate(fastest) - rate(slowest)) / rate(fastest) if rate(fastest) > 0 else 0.0,
        sum_samples_per_s=sum(rate(r) for r in measured),
        processes=processes,
        threads=threads,
        usable_cores=usable_cores,
        oversubscription=threads / max(1, usable_cores),
        pss_total=sum(m.peak_pss_total for m in ms) // len(nodes),
        shm_in_flight=int(per_node * in_flight * batch_bytes),
        sections=tuple(sections),
        slowest_node=slowest.node if len(nodes) > 1 else None,
    )
    return headline, figures


def node_plan(run: RunResult, chosen: ConfigStat, stats: Sequence[ConfigStat] = ()) -> NodePlan | None:
    """What every rank of a run with ranks should use, how to launch them, and why; None for a run of
    one loader (or when the chosen configuration has no node figures). ``stats``: every measured
    configuration (for the comparison with the single-loader recommendation on every rank)."""
    s = run.settings
    trial = next(
        (t for t in reversed(run.trials) if t.key == chosen.key and t.ok and t.node is not None), None
    )
    if not s.ranked or trial is None or trial.node is None:
        return None
    f = trial.node
    cfg = chosen.config
    file_sampler = run.preflight is not None and bool(
        {"sampler", "batch_sampler"} & set(run.preflight.from_file)
    )
    iterable = bool(run.preflight and run.preflight.iterable)
    rank_cfg = cfg
    if not (cfg.sampler or cfg.batch_sampler or file_sampler or iterable):
        rank_cfg = replace(cfg, sampler="distributed", shuffle=False)
    env = {"OMP_NUM_THREADS": str(cfg.threads or 1)}
    line = " ".join(f"{k}={v}" for k, v in env.items()) + f" torchrun --nproc-per-node {s.nproc_per_node}"
    if s.nnodes > 1:
        line += f" --nnodes {s.nnodes} --rdzv-backend c10d --rdzv-endpoint {s.rdzv_endpoint}"
    line += " train.py"
    rates = sorted((r.metrics.samples_per_s, r.rank) for r in trial.ranks if r.metrics)
    share = f.usable_cores / f.nproc_per_node
    why = [
        f"{f.nproc_per_node} ranks x {1 + cfg.num_workers} loading processes x {cfg.threads or 1} "
        f"thread{'s' if (cfg.threads or 1) > 1 else ''} = {f.threads} runnable threads on {f.usable_cores} "
        f"usable cores ({f.oversubscription:.1f}x; each rank's share is {share:.1f} cores)",
        f"a synchronous step waits for the slowest rank: rank {f.slowest_rank} at "
        f"{rates[0][0]:,.0f} samples/s, the fastest at {rates[-1][0]:,.0f} ({f.straggler_spread:.0%} lost "
        f"to the straggler); the node delivers {f.nproc_per_node} x the slowest",
        f"node memory {human_bytes(f.pss_total)} (all ranks and their workers, PSS); "
        f"/dev/shm in flight {human_bytes(f.shm_in_flight)}",
    ]
    if f.nnodes > 1 and f.slowest_node is not None:
        slow = next(x for x in f.sections if x.node == f.slowest_node)
        why.append(f"the slowest node is node {slow.node} ({slow.host}): it sets the pace for all")
    sharding = sharding_line(run, trial)
    if sharding:
        why.append(sharding)
    single = next((x for x in stats if x.key == run.single_loader), None)
    if single is not None and single.rate > 0:
        why.append(
            f"dltune's recommendation for one loader ({single.key}, from an earlier run of this file) on "
            f"every rank: {single.rate:,.0f} samples/s for the node; this plan: {chosen.rate / single.rate:.2f}x"
        )
    return NodePlan(
        nproc_per_node=s.nproc_per_node,
        nnodes=s.nnodes,
        rank_config=rank_cfg,
        torchrun=line,
        env=env,
        figures=f,
        ranks=trial.ranks,
        why=why,
        sharding=run.sharding,
        single_loader=single,
        speedup_vs_single_loader=chosen.rate / single.rate if single is not None and single.rate else None,
    )


def sharding_line(run: RunResult, trial: TrialResult) -> str | None:
    """What sharding saves (measured), or, for a map dataset without ``shard()``, what every rank holds."""
    sm = run.sharding
    if sm is not None:
        ours = "" if sm.key == trial.key else f" (measured with {sm.key})"
        if sm.full_failed:
            return (
                f"sharding: with each rank loading its part (the dataset's shard()) the node used "
                f"{human_bytes(sm.sharded_pss)}; with the full dataset on every rank the trial failed "
                f"({sm.full_failed}){ours}"
            )
        saved = sm.full_pss - sm.sharded_pss
        share = f" ({saved / sm.full_pss:.0%})" if sm.full_pss else ""
        return (
            f"sharding: node memory {human_bytes(sm.sharded_pss)} with each rank loading its part (the "
            f"dataset's shard()), {human_bytes(sm.full_pss)} with the full dataset on every rank: "
            f"{'saves ' + human_bytes(saved) + share if saved > 0 else 'no saving measured'}; one rank's "
            f"main process {human_bytes(sm.sharded_main_pss)} vs {human_bytes(sm.full_main_pss)}{ours}"
        )
    pre = run.preflight
    if pre is None or pre.iterable or pre.shardable:
        return None
    main = max((r.metrics.peak_pss_main for r in trial.ranks if r.metrics), default=0)
    return (
        f"every rank holds the whole dataset (each rank's main process up to {human_bytes(main)}); a "
        "shard(rank, world_size) method on the dataset lets each rank load only its part, and dltune "
        "then measures what that saves"
    )
