"""Exceptions of the demo's example compute service (deploy/demo/example_service.py).

They follow the pattern OpenStack services use for their own errors: each class has a
message template filled from keyword arguments, and keeps those arguments in `kwargs`.
oslo.messaging sends `kwargs` along with the class and module name when such an exception
ends an RPC call, so a cellgw caller sees them in the RemoteError of the failed call
(module "demo_exceptions", class "CoreQuotaExceeded", kwargs as a JSON object).
"""


class DemoServiceError(Exception):
    """Base class: the message is msg_fmt filled from the keyword arguments."""

    msg_fmt = 'The example compute service failed.'

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if not message:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                # A template that does not match the arguments must not hide the
                # original error behind a formatting one.
                message = self.msg_fmt
        self.message = message
        super().__init__(message)


class CoreQuotaExceeded(DemoServiceError):
    msg_fmt = ('Cannot reserve %(requested)d cores on %(host)s: '
               'only %(available)d of %(total)d are free')
