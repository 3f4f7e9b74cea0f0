"""Code more than one service uses: contracts, settings, Kafka, storage and the eFax client.

Import from the modules: `shared.contracts`, `shared.settings`, `shared.kafka`, `shared.storage`,
`shared.efax`. Nothing here imports a service.
"""
