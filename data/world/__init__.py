"""The demo world: a simulated book of accounts, its raw export and its ground truth."""

from data.world.export import write_world

__all__ = ["write_world"]
