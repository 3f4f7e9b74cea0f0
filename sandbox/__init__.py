"""eFax Enterprise API sandbox: a real HTTP server with the vendor's receiving endpoints,
signed webhooks, realistic fax documents, fault injection and a ``/sandbox`` control API.

    from sandbox import AppConfig, SandboxSettings, run_in_thread
    with run_in_thread(SandboxSettings(apps=[AppConfig(...)], time_scale=0.001)) as sb:
        faxes = sb.create_faxes(count=3)
"""

from sandbox.api import create_app
from sandbox.faults import Faults, Listing
from sandbox.server import RunningSandbox, Sandbox, run_in_thread
from sandbox.settings import AppConfig, SandboxSettings
from sandbox.state import Delivery, Fax
from sandbox.webhooks import sign

__all__ = [
    "AppConfig",
    "Delivery",
    "Faults",
    "Fax",
    "Listing",
    "RunningSandbox",
    "Sandbox",
    "SandboxSettings",
    "create_app",
    "run_in_thread",
    "sign",
]
