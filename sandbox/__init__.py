"""eFax Enterprise API sandbox: a real HTTP server with the vendor's receiving endpoints,
signed webhooks, realistic fax documents (with known text), fault injection and a
``/sandbox`` control API.

    from sandbox import AppConfig, SandboxSettings, run_in_thread
    with run_in_thread(SandboxSettings(apps=[AppConfig(...)], time_scale=0.001)) as sb:
        faxes = sb.create_faxes(count=3, content="documents")
        truth = sb.truth(faxes[0].fax_id)

The map: ``core.Sandbox`` is the façade (state and every control operation);
``efax_api`` and ``control_api`` are its two HTTP faces; ``server`` serves them;
``documents`` renders what the faxes carry (``corpus`` writes the healthcare documents and
their ground truth, ``render`` draws them as a fax machine would).
"""

from sandbox.core import Order, Sandbox
from sandbox.faults import Faults, Listing
from sandbox.server import RunningSandbox, Server, create_app, run_in_thread
from sandbox.settings import AppConfig, SandboxSettings
from sandbox.state import Delivery, Fax
from sandbox.webhooks import HostileKind, sign

__all__ = [
    "AppConfig",
    "Delivery",
    "Faults",
    "Fax",
    "HostileKind",
    "Listing",
    "Order",
    "RunningSandbox",
    "Sandbox",
    "SandboxSettings",
    "Server",
    "create_app",
    "run_in_thread",
    "sign",
]
