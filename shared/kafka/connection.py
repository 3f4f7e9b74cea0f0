"""The connection check at start: a wrong password or CA stops a service with a message naming
the setting."""

from __future__ import annotations

import asyncio
import logging
import ssl

from shared.kafka.security import client_options
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


class KafkaSettingsError(RuntimeError):
    """The broker refused the configured connection settings; the message names the setting."""


async def check_connection(settings: ServiceSettings, timeout_s: float = 10.0) -> None:
    """Connect to the bootstrap servers once with the configured security, so that a wrong
    password or CA stops a service at start with a message naming the setting (the clients
    themselves only say "Unable to bootstrap"). A broker that is merely down is left to the
    clients' own retries."""
    from aiokafka.conn import create_conn
    from aiokafka.errors import SaslAuthenticationFailed, UnsupportedSaslMechanismError

    options = client_options(settings)
    options.pop("bootstrap_servers")
    for address in settings.kafka_bootstrap_servers.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            async with asyncio.timeout(timeout_s):
                connection = await create_conn(host, int(port), **options)
        except SaslAuthenticationFailed:
            raise KafkaSettingsError(
                f"Kafka at {address} refused the SASL credentials: check "
                f"FAXRELAY_KAFKA_SASL_USERNAME ({settings.kafka_sasl_username!r}) and "
                f"FAXRELAY_KAFKA_SASL_PASSWORD (mechanism {settings.kafka_sasl_mechanism})"
            ) from None
        except UnsupportedSaslMechanismError:
            raise KafkaSettingsError(
                f"Kafka at {address} does not offer FAXRELAY_KAFKA_SASL_MECHANISM="
                f"{settings.kafka_sasl_mechanism}"
            ) from None
        except ssl.SSLCertVerificationError as error:
            raise KafkaSettingsError(
                f"Kafka at {address}: its certificate is not trusted ({error.verify_message}); "
                "check FAXRELAY_KAFKA_SSL_CAFILE"
            ) from None
        except (OSError, TimeoutError, ssl.SSLError) as error:
            log.warning("Kafka at %s not reachable yet: %s", address, type(error).__name__)
            continue
        connection.close()
        return
