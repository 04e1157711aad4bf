"""Service provisioning sync (MMSSPP): a customer's forest kept in step with its organization.

A tool above the engine, as ``openmps import`` is: a :class:`~openmps.sync.source.Source` reads
the customer's objects, :mod:`~openmps.sync.rules` says what each becomes, the
:mod:`~openmps.sync.planner` compares them with what is managed (the connector space,
:mod:`~openmps.sync.interface`) and lists actions, and the :mod:`~openmps.sync.runner` applies
them through the engine's Python door (``Engine.run``), a savepoint per object.
"""
