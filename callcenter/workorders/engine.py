"""The bridge to ``ticketing``: building its service and turning users into actors."""
from __future__ import annotations

from ticketing.service import Actor, WorkOrderService


def make_service(engine, config) -> WorkOrderService:
    return WorkOrderService.from_config(config, engine)


def actor_for(user) -> Actor:
    """The engine's view of a signed-in user: name, role and (for staff) department."""
    return Actor(user_id=user.username, role=user.role, department=user.department)


def unavailable():
    from callcenter.web.errors import ApiError

    return ApiError(503, "workorders.unavailable", "work-order service is not configured / 工单服务未启用")
