"""Service provisioning configuration: each organization's connection to its forest and its rules.

A provider, as ``plans`` is: the Service Provisioning procedures write it through the engine, the
sync runner reads it.  The bind password is kept encrypted under a key of the deployment's own.
"""
