"""build_loader: the one place a DataLoader is constructed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from torch.utils.data import DataLoader

from dltune.engine.collate import COLLATE
from dltune.engine.config import SUPPORTS_IN_ORDER, LoaderConfig, pin_memory_of
from dltune.engine.config import validate as validate_config
from dltune.engine.pinning import PINNING
from dltune.engine.samplers import BATCH_SAMPLERS, SAMPLERS
from dltune.engine.seeding import SeedWorkers, loader_generator, seed_main_process
from dltune.engine.threads import WorkerThreads
from dltune.engine.wrapper import LoaderWrapper
from dltune.errors import ConfigError


@dataclass
class Extras:
    """Objects that come from the dataset file rather than from the config's registry names."""

    collate_fn: Callable[[list[Any]], Any] | None = None
    sampler: Any = None
    batch_sampler: Any = None
    worker_init_fn: Callable[[int], None] | None = None


class EpochLoader(LoaderWrapper):
    """Calls ``set_epoch(epoch)`` on the sampler / batch sampler at the start of every epoch.

    DistributedSampler and the bucket sampler shuffle by epoch; forgetting ``set_epoch`` silently
    repeats the same order every epoch. Forwards what LoaderWrapper forwards.
    """

    def __init__(self, loader: Any, start_epoch: int = 0) -> None:
        super().__init__(loader)
        self.epoch = start_epoch

    def __iter__(self) -> Iterator[Any]:
        for s in (getattr(self.loader, "sampler", None), getattr(self.loader, "batch_sampler", None)):
            set_epoch = getattr(s, "set_epoch", None)
            if set_epoch is not None:
                set_epoch(self.epoch)
        self.epoch += 1
        return iter(self.loader)


def _needs_epochs(loader: DataLoader) -> bool:
    return any(hasattr(s, "set_epoch") for s in (loader.sampler, loader.batch_sampler))


def make_sampler(name: str, dataset: Any, seed: int | None = None, **params: Any) -> Any:
    """Build a registered sampler by name (what pasted code from a report calls)."""
    return SAMPLERS.get(name)(dataset, seed=seed, **params)


def make_batch_sampler(
    name: str, dataset: Any, batch_size: int, drop_last: bool = False, seed: int | None = None, **params: Any
) -> Any:
    """Build a registered batch sampler by name."""
    return BATCH_SAMPLERS.get(name)(dataset, batch_size=batch_size, drop_last=drop_last, seed=seed, **params)


def make_collate(name: str, **params: Any) -> Callable[[list[Any]], Any]:
    """Build a registered collate function by name."""
    return COLLATE.get(name)(**params)


def _call(what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (ConfigError, TypeError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(
            what, f"bad parameters: {exc}", "check the parameter names against the plugin's docs"
        ) from None


def build_loader(
    dataset: Any, config: LoaderConfig, extras: Extras | None = None, *, validate: bool = True
) -> Any:
    """Turn ``config`` into a real ``torch.utils.data.DataLoader`` over ``dataset``.

    ``config`` may also be a recommendation (anything with a ``loader_config``), e.g. from
    ``dltune.load_recommendation(path)``.

    Returns the DataLoader itself, or a thin wrapper (``EpochLoader`` when the sampler shuffles by
    epoch, a pinning strategy's wrapper such as ``DevicePrefetcher``) that forwards its attributes.
    """
    extras = extras or Extras()
    if not isinstance(config, LoaderConfig) and hasattr(config, "loader_config"):
        config = config.loader_config
    if validate:
        validate_config(
            config,
            dataset,
            file_sampler=extras.sampler is not None,
            file_batch_sampler=extras.batch_sampler is not None,
        )
    seed = config.seed
    kwargs: dict[str, Any] = config.loader_kwargs(pin_memory_of(config))
    if config.batch_sampler:
        kwargs["batch_sampler"] = _call(
            "batch_sampler_params",
            lambda: make_batch_sampler(
                config.batch_sampler or "",
                dataset,
                config.batch_size or 1,
                config.drop_last,
                seed,
                **config.batch_sampler_params,
            ),
        )
    elif config.sampler:
        kwargs["sampler"] = _call(
            "sampler_params",
            lambda: make_sampler(config.sampler or "", dataset, seed, **config.sampler_params),
        )
    elif extras.batch_sampler is not None:
        for k in ("batch_size", "shuffle", "drop_last"):
            kwargs.pop(k, None)
        kwargs["batch_sampler"] = extras.batch_sampler
    elif extras.sampler is not None:
        kwargs["sampler"] = extras.sampler
    if config.collate:
        kwargs["collate_fn"] = _call(
            "collate_params", lambda: make_collate(config.collate or "", **config.collate_params)
        )
    elif extras.collate_fn is not None:
        kwargs["collate_fn"] = extras.collate_fn
    if seed is not None:
        kwargs["generator"] = loader_generator(seed)
        kwargs["worker_init_fn"] = SeedWorkers(extras.worker_init_fn)
        if config.num_workers == 0:
            seed_main_process(seed)
    elif extras.worker_init_fn is not None:
        kwargs["worker_init_fn"] = extras.worker_init_fn
    if config.threads and config.num_workers:
        kwargs["worker_init_fn"] = WorkerThreads(config.threads, kwargs.get("worker_init_fn"))
    if not SUPPORTS_IN_ORDER:
        kwargs.pop("in_order", None)
    loader: Any = DataLoader(dataset, **kwargs)
    if _needs_epochs(loader):
        loader = EpochLoader(loader)
    strategy = PINNING.get(config.pinning)
    if strategy.wrap is not None:
        loader = strategy.wrap(loader, config.device)
    return loader
