"""Persistence adapter: tables, repository, unit of work."""
from ticketing.persistence.repository import SqlAlchemyUnitOfWork, WorkOrderRepository
from ticketing.persistence import tables

__all__ = ["SqlAlchemyUnitOfWork", "WorkOrderRepository", "tables"]
