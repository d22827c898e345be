"""Custom exceptions raised by tests/support/oslo_server.py.

They exercise oslo.messaging's remote-exception round trip for a module that
is not a builtin: the failure reply names module "cellgw_test_exc" and carries
the exception's `kwargs`, the way nova's NovaException subclasses do. Clients
that list this module in allowed_remote_exmods (tests/support/oslo_client.py)
rebuild the real class; others see a RemoteError.
"""


class CellGwTestError(Exception):
    """Base class: a message formatted from keyword arguments (nova style)."""

    msg_fmt = 'An unknown cellgw test error occurred.'

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if not message:
            message = self.msg_fmt % kwargs
        self.message = message
        super().__init__(message)


class CellQuotaExceeded(CellGwTestError):
    msg_fmt = 'Quota exceeded for %(resource)s: requested %(requested)s'
