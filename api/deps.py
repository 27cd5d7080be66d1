"""FastAPI dependencies: settings, clock, database engine and fact store, as ``Annotated`` aliases.

The dependencies are ``async`` because they only read ``app.state``: FastAPI runs a sync dependency in the
thread pool, a hop that costs more than the read. Nothing is built at import time: ``create_app`` puts the objects on ``app.state`` in its lifespan, and
tests replace them with ``dependency_overrides`` or by passing their own settings.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from core.clock import Clock
from core.settings import Settings
from ingestion.fact_store import FactStore


async def settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def engine_dep(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def clock_dep(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def store_dep(request: Request) -> FactStore:
    store: FactStore = request.app.state.store
    return store


SettingsDep = Annotated[Settings, Depends(settings_dep)]
EngineDep = Annotated[Engine, Depends(engine_dep)]
ClockDep = Annotated[Clock, Depends(clock_dep)]
StoreDep = Annotated[FactStore, Depends(store_dep)]
