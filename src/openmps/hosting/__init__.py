"""The hosting layer: domain rules the namespaces share, below every namespace and above the providers.

The business organization at a DN and an entry of one, the names an organization claims, what
mail-enabling a user stamps (addresses, plan settings, address lists), a SIP user's options, and
the XML shapes more than one namespace answers with.  A namespace imports these, never another
namespace; one that needs another's procedure calls it through the engine (``ctx.call``).
"""
