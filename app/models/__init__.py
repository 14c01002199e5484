"""All tables, imported here so that Alembic and the app see the same metadata."""

from app.models.account import Account
from app.models.admin_action import AdminAction
from app.models.api_key import ApiKey
from app.models.base import Base
from app.models.billing_profile import BillingProfile
from app.models.edit import Edit, EditInput
from app.models.export import Export
from app.models.session import LoginSession
from app.models.stripe_event import StripeEvent
from app.models.stripe_payment import StripePayment
from app.models.topup import TopUp
from app.models.transfer import Transfer
from app.models.user import User
from app.models.worker_heartbeat import WorkerHeartbeat

__all__ = ["Account", "AdminAction", "ApiKey", "Base", "BillingProfile", "Edit", "EditInput", "Export",
           "LoginSession", "StripeEvent", "StripePayment", "TopUp", "Transfer", "User", "WorkerHeartbeat"]
